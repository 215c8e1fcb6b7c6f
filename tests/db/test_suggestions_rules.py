"""The suggester's rules on tricky sentences, one kind at a time: quotation marks of every style,
quotations split around their attribution or running on without one, speakers named, titled,
unnamed or referred to by pronoun, indirect speech, quantities in digits and words with their
approximations, and actors matched by alias and accent-insensitively."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from db.suggestions import quantities, shape
from db.suggestions.engine import Candidates, Rules
from db.suggestions.gazetteer import Gazetteer, KnownActor
from db.suggestions.store import Article

MADURO = KnownActor(
    "act_01K8B1E2G12Z4MP14DZVS18EHJ", "person", "Nicolás Maduro", ("Maduro",), ("President of Venezuela",),
    "Venezuelan President.",
)  # fmt: skip
PENTAGON = KnownActor("act_01K8B1E2G6G33T8G953V0KSCB5", "government", "Pentagon", ("The Pentagon",))
US = KnownActor("act_01K8B1E2G7G3PZQHJ24K52XFKC", "country", "United States", ("US",))
GAZETTEER = Gazetteer([MADURO, PENTAGON, US])


def extract(text: str) -> Candidates:
    return Rules().extract(text, GAZETTEER)


def quotes(text: str) -> list[tuple[list[str], dict[str, Any] | None]]:
    found = [c for c in extract(text).claims if c.quote_type == "direct"]
    return [([text[s:e] for s, e in c.parts], c.speaker.as_dict() if c.speaker else None) for c in found]


# ---- direct quotes --------------------------------------------------------------------------


@pytest.mark.parametrize("marks", [("“", "”"), ('"', '"'), ("‘", "’"), ("«", "»")])
def test_a_quotation_is_found_in_any_mark_style(marks: tuple[str, str]) -> None:
    o, c = marks
    text = f"{o}The port will stay closed until the talks resume,{c} said Ana Ruiz, a union leader."
    assert quotes(text) == [
        (["The port will stay closed until the talks resume,"], {"name": "Ana Ruiz", "title": "union leader"})
    ]


def test_a_quotation_split_around_its_attribution_is_one_claim_with_two_parts() -> None:
    text = "“If the ships come back,” a fisherman who works the bay told the paper, “we will leave the harbour.”"
    assert quotes(text) == [
        (
            ["If the ships come back,", "we will leave the harbour."],
            {"description": "a fisherman who works the bay"},
        )
    ]


def test_a_quotation_over_two_sentences_and_its_unattributed_sequel_keep_the_speaker() -> None:
    text = (
        "“We waited all night. Nobody came,” said Tomás Vera, 44.\n"
        "“The water kept rising and the phones were dead for hours.”"
    )
    assert quotes(text) == [
        (["We waited all night. Nobody came,"], {"name": "Tomás Vera", "title": None}),
        (["The water kept rising and the phones were dead for hours."], {"name": "Tomás Vera", "title": None}),
    ]


def test_a_pronoun_speaker_is_the_person_named_before_it() -> None:
    text = "Gloria Paz runs the clinic. “We have no more beds,” she said."
    assert quotes(text)[0][1] == {"name": "Gloria Paz", "title": None}


def test_a_quoted_fragment_inside_reported_speech_is_a_direct_claim_of_the_reporter() -> None:
    text = 'Defense Secretary Carl Dunn told reporters that the strikes were "entirely lawful" and would go on.'
    (claim,) = [c for c in extract(text).claims]
    assert claim.quote_type == "direct" and claim.quote == "entirely lawful"
    assert claim.speaker is not None and claim.speaker.name == "Carl Dunn"
    assert claim.speaker.title == "Defense Secretary"
    assert claim.statement == "The strikes were entirely lawful and would go on."


def test_a_short_scare_quote_without_a_speaker_is_not_a_claim() -> None:
    assert quotes("The so-called “peace dividend” never arrived.") == []


def test_apostrophes_do_not_open_or_close_quotations() -> None:
    text = "‘The country’s ports can’t wait,’ said Ana Ruiz."
    assert quotes(text) == [(["The country’s ports can’t wait,"], {"name": "Ana Ruiz", "title": None})]


# ---- indirect claims and speakers ---------------------------------------------------------------


def indirect(text: str) -> list[tuple[str, str | None, dict[str, Any] | None]]:
    found = [c for c in extract(text).claims if c.quote_type == "indirect"]
    return [(c.statement, c.cue, c.speaker.as_dict() if c.speaker else None) for c in found]


def test_a_trailing_attribution_names_an_unnamed_source() -> None:
    text = "The convoy crossed the border at dawn, two officials familiar with the operation said on Monday."
    assert indirect(text) == [
        ("The convoy crossed the border at dawn.", "said", {"description": "two officials familiar with the operation"})
    ]


def test_told_that_and_a_known_actor_by_title() -> None:
    text = "In a speech, the Venezuelan president told supporters that the elections would go ahead."
    assert indirect(text) == [("The elections would go ahead.", "told", {"actor": MADURO.id})]


def test_according_to_and_a_known_actor_by_alias() -> None:
    text = "According to the Pentagon, the exercise will last ten days."
    assert indirect(text) == [("The exercise will last ten days.", "according to", {"actor": PENTAGON.id})]


def test_a_relative_clause_speaker_is_the_antecedent() -> None:
    text = "The plan worried several senators, who warned that it could not be paid for."
    (claim,) = [c for c in extract(text).claims]
    assert claim.speaker is not None and claim.speaker.description == "several senators"
    assert text[claim.parts[0][0] : claim.parts[0][1]].startswith("who warned that")


def test_a_verb_phrase_is_not_a_speaker() -> None:
    assert indirect("He declined to say whether the talks had ended.") == []


def test_a_surname_alone_is_the_person_named_before() -> None:
    text = "Elena Marsh, an analyst, studies the region. Marsh said the drills were unusual."
    assert indirect(text)[-1] == ("The drills were unusual.", "said", {"name": "Elena Marsh", "title": None})


# ---- quantities -----------------------------------------------------------------------------------


def quantity(text: str) -> list[dict[str, Any]]:
    return [q.as_dict(text) for q in quantities.find(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("at least 40 cargo ships", (None, 40, None, "atLeast", "cargo ships")),
        ("more than 200 containers", (None, 200, None, "atLeast", "containers")),
        ("up to $4 million", (None, None, 4_000_000, "atMost", "USD")),
        ("fewer than ten of her patients", (None, None, 10, "atMost", "patients")),
        ("around 10,000 troops", (10_000, None, None, "approximately", "troops")),
        ("some 1.4 million litres", (1_400_000, None, None, "approximately", "litres")),
        ("between 3,000 and 4,000 sailors and marines", (None, 3000, 4000, "range", "sailors and marines")),
        ("two hundred thousand reservists", (200_000, None, None, "exact", "reservists")),
        ("twenty-five buses", (25, None, None, "exact", "buses")),
        ("dozens of people", (None, 24, None, "atLeast", "people")),
        ("roughly two thirds", (0.667, None, None, "approximately", None)),
        ("eight additional warships", (8, None, None, "exact", "warships")),
        ("almost 30 percent", (30, None, None, "approximately", "percent")),
    ],
)
def test_quantities_keep_their_approximation_and_what_they_count(
    text: str, expected: tuple[Any, Any, Any, str, str | None]
) -> None:
    (q,) = quantity(f"Officials counted {text} on the coast.")
    assert (q["amount"], q["lowerBound"], q["upperBound"], q["approximation"], q["unit"]) == expected
    assert q["originalText"] == text


@pytest.mark.parametrize(
    "text",
    [
        "A 52-year-old driver arrived in 2019.",
        "Gladys Contreras, 61, fled her home.",
        "One of them said so on October 5.",
        "It was the first of many visits.",
    ],
)
def test_ages_years_dates_ordinals_and_one_are_not_quantities(text: str) -> None:
    assert quantity(text) == []


def test_a_count_of_the_dead_becomes_an_incident_and_troops_an_asset() -> None:
    text = "At least 12 people were killed, officials said. Around 4,000 troops were sent."
    article = Article("art_01K8B1E3F9FPCM47JBPJSG0VT9", text, "usable", None, False)
    made = {s["quantity"]["originalText"]: s for s in shape.suggestions(article, extract(text), [])
            if s["kind"] == "quantity"}  # fmt: skip
    killed, troops = made["At least 12 people"], made["Around 4,000 troops"]
    assert killed["createKind"] == "incident" and killed["create"]["fatalities"]["lowerBound"] == 12
    assert troops["createKind"] == "deployment"
    assert troops["create"]["assets"][0]["assetType"] == "troops"


# ---- actors -----------------------------------------------------------------------------------------


def actors(text: str) -> dict[str, tuple[str, str | None]]:
    return {a.name: (a.kind, a.known.id if a.known else None) for a in extract(text).actors}


def test_known_actors_match_accent_insensitively_and_by_alias() -> None:
    found = actors("Nicolas Maduro met envoys of the Pentagon and the US on Monday.")
    assert found["Nicolás Maduro"] == ("person", MADURO.id)
    assert found["Pentagon"] == ("government", PENTAGON.id)
    assert found["United States"] == ("country", US.id)


def test_a_capitalised_alias_does_not_match_a_word() -> None:
    assert "United States" not in actors("They told us the harbour would reopen.")


def test_new_people_organisations_and_countries_are_proposed_with_their_kind() -> None:
    text = (
        "Port Authority spokeswoman Carla Mendes said the National Dockers Union had agreed. "
        "Ships were sent to Colombia, said analysts at the consultancy Ecoanalítica."
    )
    found = actors(text)
    assert found["Carla Mendes"] == ("person", None)
    assert found["National Dockers Union"] == ("organization", None)
    assert found["Colombia"] == ("country", None)
    assert found["Ecoanalítica"] == ("organization", None)


def test_places_after_a_preposition_are_not_actors() -> None:
    assert actors("The trucks waited in Puerto Cabello and near Santa Cruz de Mora.") == {}


# ---- any text ---------------------------------------------------------------------------------------

ALPHABET = "aZé Ñ1,.;:!?-—'’‘“”\"«»()$%\n\t🇻🇪" + "said told according to at least about between and dozens of "


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.text(alphabet=ALPHABET, max_size=400) | st.lists(st.sampled_from(ALPHABET.split(" ")), max_size=80).map(" ".join)
)
def test_any_text_gives_suggestions_whose_references_are_its_words(text: str) -> None:
    article = Article("art_01K8B1E3F9FPCM47JBPJSG0VT9", text, "usable", None, False)
    for s in shape.suggestions(article, extract(text), []):
        for ref in s["references"]:
            assert text[ref["charStart"] : ref["charEnd"]] == ref["quoteText"]
