// Starts GraphiQL on this page's own /graphql: queries and mutations over HTTP POST, subscriptions
// over graphql-transport-ws on the same URL (ws:// or wss://). The Headers tab's JSON is sent with
// every HTTP request and, for subscriptions, as connection_init's payload — where the server reads
// {"Authorization": "Bearer nfk_…"} — so one header authenticates both.
"use strict";

(function () {
  const httpUrl = new URL("/graphql", window.location.href);
  const wsUrl = new URL(httpUrl);
  wsUrl.protocol = httpUrl.protocol === "https:" ? "wss:" : "ws:";

  const DEFAULT_QUERY = `# newsfacts GraphiQL — run with Ctrl-Enter (or the ▶ button).
# Add an API key in Headers below: {"Authorization": "Bearer nfk_…"} (anonymous reads work in development).

query SeedClaim {
  claim(id: "clm_01K8B1E4EJJ4YDVT3E4602WPWC") {
    statement
    speakerDescription
    reportedBy { name }
    references { quoteText article { headline } }
  }
}

# A live feed: run this, then write a claim (see the README's Quickstart) and watch it arrive.
subscription Live {
  events(types: [CLAIM_CREATED]) { sequence type objectId }
}
`;

  // #query=…&variables=…&headers=… opens a shared document (GraphiQL otherwise restores the last one). The
  // fragment, not ?query=: a GET /graphql with a query string is a GraphQL request, not this page.
  const params = new URLSearchParams(window.location.hash.slice(1));

  const fetcher = GraphiQL.createFetcher({ url: httpUrl.toString(), subscriptionUrl: wsUrl.toString() });
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      query: params.get("query") ?? undefined,
      variables: params.get("variables") ?? undefined,
      headers: params.get("headers") ?? undefined,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      // Headers (an API key) stay in this browser's storage only when the user asks in Settings.
      shouldPersistHeaders: false,
    }),
  );
})();
