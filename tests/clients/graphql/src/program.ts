// A partner's program on the GraphQL API, typed by GraphQL Code Generator's client preset
// (codegen.ts beside src/) and sent with plain fetch: a query, a search, a mutation and the custom
// scalars, with no casts. tests/contract/test_typescript_clients.py generates src/gql/ from a live
// server, compiles this with tsc --strict and runs it; it prints what it saw as one JSON line.
import { graphql } from "./gql/index.js";
import type { TypedDocumentString } from "./gql/graphql.js";
import type { JsonValue } from "./scalars.js";

const url = process.env.NEWSFACTS_GRAPHQL_URL ?? "http://localhost:8000/graphql";
const key = process.env.NEWSFACTS_KEY;

async function execute<Result, Variables>(
  document: TypedDocumentString<Result, Variables>,
  variables: Variables,
): Promise<Result> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/graphql-response+json", Authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: document.toString(), variables }),
  });
  const body = (await response.json()) as { data?: Result; errors?: { message: string }[] };
  if (body.errors?.length || body.data === undefined) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const ClaimQuery = graphql(`
  query Claim($id: ID!) {
    claim(id: $id) {
      id
      statement
      quoteType
      claimDate
      createdAt
      speakerDescription
      reportedBy { name }
      references { charStart charEnd quoteText article { id headline publishedAt } }
      revisions { version changeKind changedAt snapshot diff { field from to } }
    }
  }
`);

const SearchQuery = graphql(`
  query Search($query: String!) {
    search(query: $query, first: 3) {
      totalCount
      edges {
        rank
        snippet { text match }
        node {
          __typename
          ... on Claim { id statement }
          ... on Article { id headline }
          ... on Deployment { id statedPurpose region { name geojson } }
        }
      }
    }
  }
`);

const CreateClaim = graphql(`
  mutation CreateClaim($input: CreateClaimInput!) {
    createClaim(input: $input) {
      claim { id version status claimDate }
      userErrors { path code message }
    }
  }
`);

// A point's coordinates from a geometry typed only as JSON: narrowing, not casting.
function pointOf(geojson: JsonValue | null | undefined): number[] | null {
  if (geojson === null || geojson === undefined || typeof geojson !== "object" || Array.isArray(geojson)) return null;
  const coordinates = geojson["coordinates"];
  if (geojson["type"] !== "Point" || !Array.isArray(coordinates)) return null;
  return coordinates.filter((n): n is number => typeof n === "number");
}

async function main(): Promise<void> {
  const seed = "clm_01K8B1E4EJJ4YDVT3E4602WPWC";
  const { claim } = await execute(ClaimQuery, { id: seed });
  if (claim === null || claim === undefined) throw new Error(`no claim ${seed}`);
  const statement: string = claim.statement;
  const created: string = claim.createdAt; // DateTime
  const day: string | null | undefined = claim.claimDate; // Date
  const snapshot: JsonValue = claim.revisions[0]?.snapshot ?? null;
  const snapshotKeys = snapshot !== null && typeof snapshot === "object" && !Array.isArray(snapshot) ? Object.keys(snapshot) : [];
  const article = claim.references[0]?.article;

  const { search } = await execute(SearchQuery, { query: "Caribbean buildup" });
  const found = search.edges.map((edge) => {
    const node = edge.node;
    switch (node.__typename) {
      case "Claim":
        return `claim:${node.statement}`;
      case "Article":
        return `article:${node.headline ?? ""}`;
      case "Deployment":
        return `deployment:${JSON.stringify(pointOf(node.region?.geojson))}`;
      default:
        return node.__typename;
    }
  });

  const { createClaim } = await execute(CreateClaim, {
    input: {
      statement: "The Atlantic calls the buildup the largest since 1962.",
      quoteType: "INDIRECT",
      claimDate: "2025-10-06",
      references: [{ article: article?.id ?? "", quoteText: "the Cuban Missile Crisis of 1962" }],
    },
  });
  const errors = createClaim.userErrors.map((e) => `${e.path.join(".")}:${e.code}`);

  console.log(
    JSON.stringify({
      statement,
      created,
      day: day ?? null,
      quoteType: claim.quoteType,
      reportedBy: claim.reportedBy?.name ?? null,
      snapshotKeys,
      publishedAt: article?.publishedAt ?? null,
      found,
      createdClaim: createClaim.claim?.id ?? null,
      createdDay: createClaim.claim?.claimDate ?? null,
      errors,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
