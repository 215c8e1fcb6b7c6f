// GraphQL Code Generator for newsfacts: the client preset, with the schema's custom scalars mapped
// to TypeScript (they would otherwise be `unknown`). Run `npx graphql-codegen --config codegen.ts`
// with the server up; tests/contract/test_typescript_clients.py runs exactly this file against a
// live server and compiles and runs src/program.ts with tsc --strict.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  // Introspection of a running server (or a path to schema/schema.graphql, the committed SDL).
  schema: process.env.NEWSFACTS_GRAPHQL_URL ?? "http://localhost:8000/graphql",
  documents: ["src/**/*.ts", "!src/gql/**/*"],
  ignoreNoDocuments: false,
  generates: {
    "src/gql/": {
      preset: "client",
      config: {
        // newsfacts' custom scalars; both date scalars are ISO 8601 strings on the wire.
        scalars: {
          Date: "string", // a calendar day, "2025-10-06"
          DateTime: "string", // "2025-10-06T14:03:00+00:00"
          JSON: "../scalars.js#JsonValue", // any JSON value (GeoJSON, revision snapshots, field changes)
        },
        strictScalars: true, // a scalar added to the schema without a mapping here fails generation
        useTypeImports: true,
        enumsAsTypes: true,
        // Plain fetch with no GraphQL client library: documents as typed strings. With Apollo or
        // urql, drop documentMode (they take the default DocumentNode).
        documentMode: "string",
        // Node ES modules want file extensions in imports; bundlers (Vite, webpack) need no such line.
        importExtension: ".js",
      },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
