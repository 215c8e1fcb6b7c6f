// The page's only way to the service: GraphQL over fetch at /graphql. The API key lives in this
// module's memory (the tab's), is never stored, and goes out as "Authorization: Bearer".

let key = null;

export function setKey(value) {
  key = value ? value.trim() : null;
}

export function hasKey() {
  return key !== null;
}

export function authHeaders() {
  return key ? { authorization: `Bearer ${key}` } : {};
}

export class ApiError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.errors = errors;
  }
}

/** Runs a query; returns data, or throws ApiError. With partial, returns {data, errors} as sent. */
export async function gql(query, variables = {}, { partial = false } = {}) {
  const res = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", ...authHeaders() },
    body: JSON.stringify({ query: withFragments(query), variables }),
  });
  let body;
  try {
    body = await res.json();
  } catch {
    throw new ApiError([{ message: `the API answered HTTP ${res.status}` }]);
  }
  if (partial && body.data) return body;
  if (body.errors?.length) throw new ApiError(body.errors);
  return body.data;
}

// Fragments, appended to each document only when it uses them (GraphQL refuses unused fragments).
const FRAGMENTS = {
  Who: "fragment Who on Actor { id name kind }",
  // The cited article's headline and status name the other articles a fact cites (a stub's headline is null).
  Ref: "fragment Ref on Reference { charStart charEnd quoteText article { id headline pubStatus } }",
  Qty: "fragment Qty on Quantity { amount lowerBound upperBound approximation unit originalText }",
  Revs: "fragment Revs on Fact { version updatedAt retractedAt revisions { version changeKind reason changedAt } }",
  ClaimFields: `fragment ClaimFields on Claim { id ...Revs sourcing statement quote quoteType status speakerDescription
    claimDate claimDatePrecision speaker { ...Who } reportedBy { ...Who } subjects { ...Who }
    supersedes { id statement } contradicts { id statement } sameAs { id statement } references { ...Ref } }`,
  DeploymentFields: `fragment DeploymentFields on Deployment { id ...Revs sourcing status statedPurpose startedOn endedOn
    deployer { ...Who } region { name }
    assets { id assetType name attributes quantity { ...Qty } references { ...Ref } } references { ...Ref } }`,
  IncidentFields: `fragment IncidentFields on Incident { id ...Revs sourcing incidentType description occurredFrom occurredTo
    occurredPrecision location { name } actors { role actor { ...Who } }
    count { ...Qty } fatalities { ...Qty } injuries { ...Qty } references { ...Ref } }`,
};

export const FIELDS_OF = { claim: "ClaimFields", deployment: "DeploymentFields", incident: "IncidentFields" };

function withFragments(query) {
  const used = new Set();
  const visit = (text) => {
    for (const [, name] of text.matchAll(/\.\.\.(\w+)/g)) {
      if (FRAGMENTS[name] && !used.has(name)) {
        used.add(name);
        visit(FRAGMENTS[name]);
      }
    }
  };
  visit(query);
  return [query, ...[...used].map((n) => FRAGMENTS[n])].join("\n");
}

export const ARTICLE = `query Article($id: ID!) {
  article(id: $id) { id pubStatus retractedAt headline summary body language publishedAt subjects url
    outlet { ...Who } authors { ...Who } basedOn { ...Who }
    claims(first: 100) { nodes { ...ClaimFields } }
    deployments(first: 100) { nodes { ...DeploymentFields } }
    incidents(first: 100) { nodes { ...IncidentFields } } } }`;

const notFound = (errors) => errors.every((e) => e.extensions?.code === "NOT_FOUND");

/** One fact by id as it is now; null when this reader cannot see it (it was never there, or its
 *  every source is withdrawn and the key cannot write: the API answers NOT_FOUND). */
export async function fetchFact(kind, id) {
  const body = await gql(`query Fact($id: ID!) { fact: ${kind}(id: $id) { ...${FIELDS_OF[kind]} } }`, { id }, { partial: true });
  if (body.errors?.length && !notFound(body.errors)) throw new ApiError(body.errors);
  return body.data.fact ?? null;
}

/** The article and each of the given facts as they stood at asOf, in one request (one alias each). */
export async function fetchAsOf(articleId, facts, asOf) {
  const vars = facts.map((_, i) => `$f${i}: ID!`).join(" ");
  const fields = facts.map((f, i) => `f${i}: ${f.kind}(id: $f${i}, asOf: $t) { ...${FIELDS_OF[f.kind]} }`);
  const query = `query AsOf($a: ID!, $t: DateTime! ${vars}) {
    article(id: $a, asOf: $t) { id pubStatus headline body } ${fields.join("\n")} }`;
  const variables = { a: articleId, t: asOf };
  facts.forEach((f, i) => (variables[`f${i}`] = f.id));
  // A fact created after asOf answers NOT_FOUND for its alias only: partial data is the point.
  const { data } = await gql(query, variables, { partial: true });
  return { article: data.article, facts: facts.map((_, i) => data[`f${i}`]).filter(Boolean) };
}

export async function fetchRevisions(id) {
  const data = await gql(
    `query Revisions($id: ID!) { node(id: $id) { ... on Fact {
      revisions { version changeKind reason changedBy changedAt snapshot } } } }`,
    { id },
  );
  return data.node?.revisions ?? [];
}

// GraphQL enums are the document values in UPPER_SNAKE (indirect → INDIRECT, mediaOutlet → MEDIA_OUTLET).
const enumName = (value) => value.replace(/([A-Z])/g, "_$1").toUpperCase();

export async function createClaim(input) {
  const typed = { ...input, quoteType: enumName(input.quoteType), status: enumName(input.status) };
  const data = await gql(
    `mutation New($input: CreateClaimInput!) { createClaim(input: $input) {
      claim { ...ClaimFields } userErrors { path code message } } }`,
    { input: typed },
  );
  return data.createClaim;
}
