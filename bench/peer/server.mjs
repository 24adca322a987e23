// The peer of Warden's benchmark: oidc-provider (https://github.com/panva/node-oidc-provider)
// configured to do what Warden does in the same scenarios.
//
//   node server.mjs --port 9090 --client-jwks jwks.json \
//     --basic-client-id bench-basic --basic-client-secret S --pkjwt-client-id bench-pkjwt \
//     --api-es256 https://bench.example/api --api-rs256 https://bench.example/api-rs256 \
//     --api-opaque https://bench.example/api-opaque
//
// Equivalence with Warden's bench setup:
// - three resource servers (RFC 8707 resource indicators): JWT access tokens (RFC 9068
//   `at+jwt`) signed ES256, JWT access tokens signed RS256, and opaque tokens; scopes
//   "read write"; 15 minute access tokens (Warden's default lifetime);
// - a client_secret_basic client and a private_key_jwt client (ES256, the bench's public JWK
//   Set), both allowed the client_credentials grant only;
// - introspection enabled, any authenticated client may introspect;
// - the default in-memory adapter (no database), no development interactions, no request
//   logging. Listens on 127.0.0.1 only.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: '9090' },
    'client-jwks': { type: 'string' },
    'basic-client-id': { type: 'string', default: 'bench-basic' },
    'basic-client-secret': { type: 'string' },
    'pkjwt-client-id': { type: 'string', default: 'bench-pkjwt' },
    'api-es256': { type: 'string', default: 'https://bench.example/api' },
    'api-rs256': { type: 'string', default: 'https://bench.example/api-rs256' },
    'api-opaque': { type: 'string', default: 'https://bench.example/api-opaque' },
  },
  strict: true,
});

for (const required of ['client-jwks', 'basic-client-secret']) {
  if (!opts[required]) {
    console.error(`peer: --${required} is required`);
    process.exit(2);
  }
}

const port = Number.parseInt(opts.port, 10);
const issuer = `http://127.0.0.1:${port}`;
const clientJwks = JSON.parse(readFileSync(opts['client-jwks'], 'utf8'));

// Access-token lifetime, as Warden's default (15 min).
const ACCESS_TOKEN_TTL = 15 * 60;

// The server's signing keys: one ES256 and one RS256 key, as Warden holds per algorithm.
function signingKey(kind, alg, options) {
  const { privateKey } = generateKeyPairSync(kind, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `peer-${alg.toLowerCase()}` };
}
const jwks = {
  keys: [
    signingKey('ec', 'ES256', { namedCurve: 'P-256' }),
    signingKey('rsa', 'RS256', { modulusLength: 2048 }),
  ],
};

const resourceServers = new Map([
  [opts['api-es256'], { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }],
  [opts['api-rs256'], { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }],
  [opts['api-opaque'], { accessTokenFormat: 'opaque' }],
]);

const cc = { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] };

const configuration = {
  clients: [
    {
      ...cc,
      client_id: opts['basic-client-id'],
      client_secret: opts['basic-client-secret'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      ...cc,
      client_id: opts['pkjwt-client-id'],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: clientJwks,
    },
  ],
  jwks,
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // Any authenticated client may introspect, as in Warden's bench setup.
      allowedPolicy: async () => true,
    },
    revocation: { enabled: false },
    resourceIndicators: {
      enabled: true,
      // A request without `resource` gets the ES256 API; one with `resource` gets that API.
      defaultResource: async (_ctx, _client, oneOf) => oneOf ?? opts['api-es256'],
      useGrantedResource: async () => false,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        const server = resourceServers.get(resourceIndicator);
        if (!server) throw new errors.InvalidTarget();
        return {
          scope: 'read write',
          audience: resourceIndicator,
          accessTokenTTL: ACCESS_TOKEN_TTL,
          ...server,
        };
      },
    },
  },
  ttl: {
    AccessToken: ACCESS_TOKEN_TTL,
    ClientCredentials: ACCESS_TOKEN_TTL,
  },
};

const provider = new Provider(issuer, configuration);

// Errors are answered to the client (RFC 6749 §5.2); only genuine server faults are logged.
provider.on('server_error', (_ctx, err) => console.error('peer: server_error', err));

const server = createServer(provider.callback());
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => {
  console.error(`peer: oidc-provider listening on ${issuer}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
