"""Every root field and relation over the seed article (real HTTP, real PostgreSQL)."""

from __future__ import annotations

from tests.schema.gql import codes, gql
from tests.services import LiveServer

CANDY = "clm_01K8B1E4EJJ4YDVT3E4602WPWC"
ATLANTIC = "act_01K8B1E2G4CV8AYVXXYVX5Y92G"
MADURO = "act_01K8B1E2G12Z4MP14DZVS18EHJ"
ARTICLE = "art_01K8B1E3F9FPCM47JBPJSG0VT9"
DEPLOYMENT = "dep_01K8B1E5DS81PW7K51N7X88QBD"
INCIDENT = "inc_01K8B1E7C9EGR26T72D8JGSNDX"


def test_unnamed_source_claim(server: LiveServer) -> None:
    r = gql(
        server.url,
        """query($id: ID!) { claim(id: $id) {
            id statement quote quoteType status speaker { id } speakerDescription
            reportedBy { id name kind } subjects { id name }
            references { charStart charEnd quoteText article { id headline } }
            revisions { version changeKind }
        } }""",
        {"id": CANDY},
    )
    assert "errors" not in r, r
    claim = r["data"]["claim"]
    assert claim["speaker"] is None
    assert claim["speakerDescription"] == "a person who speaks to officials in both countries"
    assert claim["reportedBy"] == {"id": ATLANTIC, "name": "The Atlantic", "kind": "MEDIA_OUTLET"}
    assert "enough candy in the dish" in (claim["quote"] or claim["statement"])
    ref = claim["references"][0]
    assert ref["article"]["id"] == ARTICLE
    assert len(ref["quoteText"]) == ref["charEnd"] - ref["charStart"]
    assert claim["revisions"][0]["version"] == 1
    assert r["extensions"]["cost"]["requested"] >= 1


def test_deployment_troops_approximately_ten_thousand(server: LiveServer) -> None:
    r = gql(
        server.url,
        """query($id: ID!) { deployment(id: $id) { deployer { name } region { name } status
            assets { id assetType name attributes quantity { amount approximation lowerBound upperBound }
                     references { article { id } } }
            references { quoteText } } }""",
        {"id": DEPLOYMENT},
    )
    assert "errors" not in r, r
    troops = [a for a in r["data"]["deployment"]["assets"] if a["assetType"] == "TROOPS"]
    assert troops and troops[0]["quantity"]["amount"] == 10000
    assert troops[0]["quantity"]["approximation"] == "APPROXIMATELY"


def test_incident_at_least_65_fatalities(server: LiveServer) -> None:
    r = gql(
        server.url,
        """query($id: ID!) { incident(id: $id) { incidentType description occurredFrom location { name }
            fatalities { lowerBound approximation } count { amount approximation }
            actors { role actor { id name } } references { article { id } } } }""",
        {"id": INCIDENT},
    )
    assert "errors" not in r, r
    inc = r["data"]["incident"]
    assert inc["fatalities"] == {"lowerBound": 65, "approximation": "AT_LEAST"}
    assert inc["count"]["amount"] == 16
    assert inc["actors"] and all(a["actor"]["id"].startswith("act_") for a in inc["actors"])


def test_article_by_id_and_uri_with_every_relation(server: LiveServer) -> None:
    r = gql(
        server.url,
        """query($id: ID!) { article(id: $id) {
            id uri headline publishedAt subjects pubStatus outlet { id } authors { id } basedOn { id name }
            actors { id }
            claims(first: 100) { totalCount nodes { id } pageInfo { hasNextPage } }
            deployments { nodes { id } } incidents { nodes { id } }
        } }""",
        {"id": ARTICLE},
    )
    assert "errors" not in r, r
    a = r["data"]["article"]
    assert ATLANTIC in [x["id"] for x in a["basedOn"]]
    assert {x["id"] for x in a["basedOn"]} <= {x["id"] for x in a["actors"]}
    assert CANDY in [c["id"] for c in a["claims"]["nodes"]]
    assert a["claims"]["totalCount"] == len(a["claims"]["nodes"])
    assert [d["id"] for d in a["deployments"]["nodes"]] == [DEPLOYMENT]
    assert [i["id"] for i in a["incidents"]["nodes"]] == [INCIDENT]
    by_uri = gql(server.url, "query($u: String!) { article(uri: $u) { id } }", {"u": a["uri"]})
    assert by_uri["data"]["article"]["id"] == ARTICLE


def test_actor_reverse_relations(server: LiveServer) -> None:
    r = gql(
        server.url,
        """query($atl: ID!, $mad: ID!) { atlantic: actor(id: $atl) { name claimsReported(first: 50) { totalCount nodes { id reportedBy { id } } }
               articles { nodes { id } } }
             maduro: actor(id: $mad) { name aliases country wikidataId roles { title organization { id name } }
               claimsAsSubject(first: 50) { totalCount nodes { subjects { id } } }
               claimsAsSpeaker { totalCount } deployments { totalCount } incidents { nodes { id } } } }""",
        {"atl": ATLANTIC, "mad": MADURO},
    )
    assert "errors" not in r, r
    atl = r["data"]["atlantic"]
    assert CANDY in [c["id"] for c in atl["claimsReported"]["nodes"]]
    assert all(c["reportedBy"]["id"] == ATLANTIC for c in atl["claimsReported"]["nodes"])
    assert ARTICLE in [a["id"] for a in atl["articles"]["nodes"]]
    mad = r["data"]["maduro"]
    assert mad["roles"][0]["organization"]["name"] == "Government of Venezuela"
    assert mad["claimsAsSubject"]["totalCount"] > 0
    assert all(MADURO in [s["id"] for s in c["subjects"]] for c in mad["claimsAsSubject"]["nodes"])


def test_lists_filters_and_order(server: LiveServer) -> None:
    r = gql(
        server.url,
        """query($atl: ID!, $art: ID!) { claims(filter: {reportedBy: $atl, article: $art}, orderBy: {field: CLAIM_DATE, direction: DESC}, first: 5)
               { nodes { id reportedBy { id } } }
             deployments(filter: {assetType: TROOPS, region: "caribbean"}, first: 100)
               { nodes { id region { name } assets { assetType } } }
             incidents(filter: {article: $art}) { nodes { id } }
             actors(filter: {kind: MEDIA_OUTLET, query: "Atlantic"}) { nodes { id } }
             articles(filter: {query: "Maduro exile"}) { nodes { id } } }""",
        {"atl": ATLANTIC, "art": ARTICLE},
    )
    assert "errors" not in r, r
    d = r["data"]
    assert d["claims"]["nodes"] and all(c["reportedBy"]["id"] == ATLANTIC for c in d["claims"]["nodes"])
    # Other modules load generated corpora into the same database, some with Caribbean troops too:
    # the seed deployment must be found, and everything found must match the filter.
    deployments = d["deployments"]["nodes"]
    assert DEPLOYMENT in [x["id"] for x in deployments]
    for x in deployments:
        assert x["region"]["name"].lower() == "caribbean"
        assert "TROOPS" in [a["assetType"] for a in x["assets"]]
    assert [x["id"] for x in d["incidents"]["nodes"]] == [INCIDENT]
    assert ATLANTIC in [x["id"] for x in d["actors"]["nodes"]]
    assert [x["id"] for x in d["articles"]["nodes"]] == [ARTICLE]


def test_node_nodes_and_search(server: LiveServer) -> None:
    r = gql(
        server.url,
        """query($c: ID!, $art: ID!, $mad: ID!) { node(id: $c) { __typename id ... on Claim { statement } }
             nodes(ids: [$art, $mad, "act_0SEED00000000000000000ZZZZ"]) { __typename id }
             search(query: "candy") { nodes { __typename ... on Claim { id } } }
             onlyActors: search(query: "Maduro", types: [ACTOR]) { nodes { __typename ... on Actor { id } } } }""",
        {"c": CANDY, "art": ARTICLE, "mad": MADURO},
    )
    assert "errors" not in r, r
    d = r["data"]
    assert d["node"]["__typename"] == "Claim"
    assert [n and n["__typename"] for n in d["nodes"]] == ["Article", "Actor", None]
    assert {"__typename": "Claim", "id": CANDY} in d["search"]["nodes"]
    actors = d["onlyActors"]["nodes"]
    assert actors and all(x["__typename"] == "Actor" for x in actors)
    assert MADURO in [x["id"] for x in actors]


def test_as_of_before_creation_is_not_found_and_now_is_current(server: LiveServer) -> None:
    r = gql(
        server.url,
        """query($c: ID!) { old: claim(id: $c, asOf: "2000-01-01T00:00:00Z") { id }
             now: claim(id: $c, asOf: "2999-01-01T00:00:00Z") { id version } }""",
        {"c": CANDY},
    )
    assert r["data"]["old"] is None
    assert r["data"]["now"]["id"] == CANDY
    assert codes(r) == ["NOT_FOUND"]
    assert r["errors"][0]["path"] == ["old"]
