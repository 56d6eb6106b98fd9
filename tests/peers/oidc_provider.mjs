// A real OpenID provider (oidc-provider from npm) for the gateway's tests.
//
//     node oidc_provider.mjs CLIENTS_JSON
//
// CLIENTS_JSON is [{"id", "secret", "tenant", "roles"?}, ...]. Each client
// may get access tokens through the client credentials grant: JWTs (RS256)
// whose audience is the resource the client asks for (RFC 8707), carrying
// the client's tenant as the `tenant` claim and its roles as `roles`.
// Listens on a free loopback port and prints {"issuer": URL} once ready.
import http from "node:http";
import Provider from "oidc-provider";

const clients = JSON.parse(process.argv[2] ?? "[]");
const byId = Object.fromEntries(clients.map((client) => [client.id, client]));

const server = http.createServer();
server.listen(0, "127.0.0.1", () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: clients.map((client) => ({
      client_id: client.id,
      client_secret: client.secret,
      grant_types: ["client_credentials"],
      redirect_uris: [],
      response_types: [],
      scope: "mcp",
    })),
    scopes: ["mcp"],
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        getResourceServerInfo: (_ctx, resource) => ({
          audience: resource,
          scope: "mcp",
          accessTokenTTL: 300,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg: "RS256" } },
        }),
      },
    },
    extraTokenClaims: (_ctx, token) => ({
      tenant: byId[token.clientId].tenant,
      roles: byId[token.clientId].roles ?? [],
    }),
  });
  server.on("request", provider.callback());
  console.log(JSON.stringify({ issuer }));
});
