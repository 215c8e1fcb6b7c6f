// Runs graphql-http's server audits against the URL given and prints each result as JSON:
// {id, name, status: "ok" | "notice" | "warn" | "error", reason, statusCode}.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs http://host:port/graphql');
  process.exit(2);
}
const results = [];
for (const audit of serverAudits({ url })) {
  // One at a time: the results do not depend on it, and a failure is easier to read in the log.
  const result = await audit.fn();
  results.push({
    id: result.id,
    name: result.name,
    status: result.status,
    reason: result.reason ?? null,
    statusCode: result.response ? result.response.status : null,
  });
}
console.log(JSON.stringify(results));
