// A partner's program on the REST API, typed by openapi-typescript from the served /openapi.json
// (`npx openapi-typescript http://localhost:8000/openapi.json -o src/api.d.ts`) and called with
// openapi-fetch: the common calls, with no casts. tests/contract/test_typescript_clients.py compiles
// it with tsc --strict and runs it against a live server; it prints what it saw as one JSON line.
import createClient from "openapi-fetch";
import type { components, paths } from "./api.js";

type Claim = components["schemas"]["Claim"];
type Fact = components["schemas"]["Fact"];
type Problem = components["schemas"]["Problem"];

const baseUrl = process.env.NEWSFACTS_URL ?? "http://localhost:8000";
const writer = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${process.env.NEWSFACTS_KEY}` } });
const admin = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${process.env.NEWSFACTS_ADMIN}` } });

function fail(problem: Problem | undefined, response: Response): never {
  throw new Error(`${response.status}: ${problem?.detail ?? problem?.title ?? "no body"}`);
}

// What a fact is called, whatever its kind: the union narrows on `object`.
function label(fact: Fact): string {
  switch (fact.object) {
    case "actor":
      return fact.name;
    case "article":
      return fact.headline ?? fact.uri;
    case "claim":
      return fact.statement;
    case "deployment":
      return fact.statedPurpose ?? fact.status;
    case "incident":
      return fact.incidentType;
  }
}

async function main(): Promise<void> {
  // 1. List claims with their speaker and cited articles expanded.
  const page = await writer.GET("/v1/claims", {
    params: { query: { expand: "speaker,references.article", limit: 5 } },
  });
  if (page.error) fail(page.error, page.response);
  const speakers: string[] = [];
  const headlines: string[] = [];
  for (const claim of page.data.data) {
    const statement: string = claim.statement;
    if (statement.length === 0) throw new Error("empty statement");
    const speaker = claim.speaker; // an id, the expanded actor, or null
    if (speaker !== null && typeof speaker === "object") speakers.push(speaker.name);
    for (const reference of claim.references) {
      const article = reference.article;
      if (article !== null && typeof article === "object" && article.headline !== null) headlines.push(article.headline);
      const offsets: [number, number] = [reference.charStart, reference.charEnd];
      if (offsets[1] < offsets[0]) throw new Error("offsets out of order");
    }
  }
  const nextCursor: string | null = page.data.nextCursor;

  // 2. Create a claim; the Idempotency-Key makes a retry safe.
  const article = page.data.data[0]?.references[0]?.article;
  if (article === undefined || article === null) throw new Error("the seed's first claim cites no article");
  const articleId = typeof article === "string" ? article : article.id;
  const key = crypto.randomUUID();
  const body = {
    statement: "The Atlantic calls the US buildup in the Caribbean the largest since the Cuban Missile Crisis.",
    quoteType: "indirect" as const,
    references: [{ article: articleId, quoteText: "the Cuban Missile Crisis of 1962" }],
  };
  const created = await writer.POST("/v1/claims", { params: { header: { "Idempotency-Key": key } }, body });
  if (created.error) fail(created.error, created.response);
  const claim: Claim = created.data;
  const retried = await writer.POST("/v1/claims", { params: { header: { "Idempotency-Key": key } }, body });
  if (retried.error) fail(retried.error, retried.response);

  // 3. Get it, change it with a merge patch, read its revisions.
  const got = await writer.GET("/v1/claims/{id}", { params: { path: { id: claim.id } } });
  if (got.error) fail(got.error, got.response);
  const patched = await writer.PATCH("/v1/claims/{id}", {
    params: { path: { id: claim.id }, header: { "If-Match": `"${claim.id}.v${got.data.version}"` } },
    body: { status: "corroborated", speakerDescription: null },
  });
  if (patched.error) fail(patched.error, patched.response);
  const revisions = await writer.GET("/v1/claims/{id}/revisions", { params: { path: { id: claim.id } } });
  if (revisions.error) fail(revisions.error, revisions.response);
  const history = revisions.data.data.map((r) => `${r.version}:${r.changeKind}:${label(r.snapshot)}`);

  // 4. The event log: each event's data is the fact (null when the caller may not see it).
  const events = await writer.GET("/v1/events", { params: { query: { after: 0, objectId: claim.id } } });
  if (events.error) fail(events.error, events.response);
  const eventTypes = events.data.data.map((e) => `${e.type}:${e.data === null ? "hidden" : e.data.object}`);
  const nextAfter: number = events.data.nextAfter;

  // 5. A deployment's region as a typed GeoJSON geometry.
  const deployments = await writer.GET("/v1/deployments", { params: { query: { limit: 10 } } });
  if (deployments.error) fail(deployments.error, deployments.response);
  const points: [number, number][] = [];
  for (const deployment of deployments.data.data) {
    const shape = deployment.region.geojson;
    if (shape !== null && shape.type === "Point") {
      const [longitude, latitude] = shape.coordinates;
      if (longitude !== undefined && latitude !== undefined) points.push([longitude, latitude]);
    }
  }

  // 6. Webhook endpoints: create (the secret is shown once), list, get, update, delete.
  const endpoint = await admin.POST("/v1/webhook-endpoints", {
    body: { url: "http://127.0.0.1:9/hook", enabledEvents: ["claim.created"], description: "typed client" },
  });
  if (endpoint.error) fail(endpoint.error, endpoint.response);
  const secret: string = endpoint.data.secret;
  const listed = await admin.GET("/v1/webhook-endpoints", {});
  if (listed.error) fail(listed.error, listed.response);
  const one = await admin.GET("/v1/webhook-endpoints/{id}", { params: { path: { id: endpoint.data.id } } });
  if (one.error) fail(one.error, one.response);
  const disabled = await admin.PATCH("/v1/webhook-endpoints/{id}", {
    params: { path: { id: endpoint.data.id } },
    body: { status: "disabled" },
  });
  if (disabled.error) fail(disabled.error, disabled.response);
  const deleted = await admin.DELETE("/v1/webhook-endpoints/{id}", { params: { path: { id: endpoint.data.id } } });
  if (deleted.error) fail(deleted.error, deleted.response);

  // 7. A refusal is a typed problem.
  const missing = await writer.GET("/v1/claims/{id}", { params: { path: { id: "clm_00000000000000000000000000" } } });
  const problemCode: string | undefined = missing.error?.code;

  console.log(
    JSON.stringify({
      listed: page.data.data.length,
      speakers,
      headlines,
      nextCursor,
      created: claim.id,
      replayed: retried.data.id === claim.id,
      version: patched.data.version,
      status: patched.data.status,
      history,
      eventTypes,
      nextAfter,
      points,
      secretPrefix: secret.slice(0, 6),
      endpointListed: listed.data.data.some((e) => e.id === endpoint.data.id),
      endpointEvents: one.data.enabledEvents,
      endpointStatus: disabled.data.status,
      deletedStatus: deleted.response.status,
      problemCode,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
