// Package auth is sfsim's identity provider: the OAuth 2.0 token, userinfo,
// identity and revoke endpoints, the SOAP partner login, and the session
// validator that every other simulator surface (REST, the gRPC Pub/Sub
// metadata, CometD) calls to check an access token.
//
// # Endpoints
//
// [Provider.Handler] serves these paths; mount it on the simulator's mux for
// "/services/oauth2/", "/services/Soap/" and "/id/":
//
//	POST     /services/oauth2/token       form-encoded token request (grants below)
//	GET|POST /services/oauth2/userinfo    OpenID Connect userinfo (Bearer token)
//	GET|POST /services/oauth2/revoke      revoke an access or refresh token (token=...)
//	POST     /services/Soap/u/{version}   partner SOAP login (jsforce's login() without an OAuth client)
//	GET|POST /id/{orgId}/{userId}         the identity URL returned as "id" (jsforce's identity())
//
// # Grants
//
//   - password: client_id, client_secret, username, password + security token.
//   - refresh_token: refresh_token, client_id and an optional client_secret.
//   - client_credentials: client_id and client_secret in the form or as HTTP
//     Basic credentials. The session belongs to the configured user (Salesforce's
//     "Run As" user).
//   - urn:ietf:params:oauth:grant-type:jwt-bearer: an RS256 assertion verified
//     against [Config.JWTCert], with iss = client id, sub = username, exp in the
//     future (no leeway; nbf, when present, must not be in the future) and aud
//     one of: the URL the request was sent to (scheme and host of the request,
//     which is the client's loginUrl), the instance URL,
//     https://login.salesforce.com or https://test.salesforce.com. A trailing
//     slash is ignored. Any other alg, "none" included, is refused.
//   - authorization_code and every other grant: not supported, HTTP 400
//     {"error":"unsupported_grant_type","error_description":"grant type not supported"}.
//
// Successful responses carry access_token, instance_url, id
// (<instance>/id/<orgId>/<userId>), token_type "Bearer", issued_at
// (milliseconds, as a string) and scope, and as Salesforce does:
//
//   - signature (base64 HMAC-SHA256 of id+issued_at keyed with the client
//     secret) for every grant except the JWT bearer grant, whose responses have
//     none;
//   - api_instance_url (the simulator's base URL, since it has one host) for
//     client credentials;
//   - refresh_token for the refresh_token grant only, echoing the token that was
//     presented (no rotation). The password, client credentials and JWT grants
//     return no refresh token, like Salesforce, whose refresh tokens come from the
//     interactive authorization-code flows that the simulator does not run. Tests
//     get one from [Provider.IssueRefreshToken] instead.
//
// Token endpoint errors are HTTP 400 JSON {"error":…,"error_description":…}:
//
//	invalid_client_id       client identifier invalid            unknown or missing client id, JWT iss mismatch
//	invalid_client          invalid client credentials           wrong or missing client secret
//	invalid_grant           authentication failure               wrong username, password or security token
//	invalid_grant           expired access/refresh token         unknown or revoked refresh token
//	invalid_grant           invalid assertion                    malformed JWT, bad signature, alg not RS256, no certificate configured
//	invalid_grant           audience is invalid                  JWT aud not accepted
//	invalid_grant           expired authorization code           JWT exp not in the future (Salesforce's wording), or nbf in the future
//	invalid_grant           user hasn't approved this consumer   JWT sub is not the configured username [UNVERIFIED wording]
//	unsupported_grant_type  grant type not supported             missing, unknown or authorization_code grant
//	invalid_request         invalid request                      unreadable form body
//
// Error bodies are fixed strings: they never echo a submitted secret,
// password or token.
//
// Revoke answers 200 with an empty body, and 400
// {"error":"invalid_token","error_description":"invalid token"} for a missing,
// unknown, expired or already revoked token. Revoking a refresh token also
// revokes every access token issued from it.
//
// Userinfo and the identity URL answer 403 with the plain-text bodies
// "Missing_OAuth_Token" or "Bad_OAuth_Token" when the token is absent or
// invalid, as Salesforce's identity service does (not the REST 401).
//
// The SOAP login answers a partner loginResponse whose serverUrl is
// <instance>/services/Soap/u/<version>/<orgId15> (Salesforce puts the 15-character
// org id there), with passwordExpired false, sessionId, userId and, inside
// userInfo, organizationId and userName. A wrong username or password gives
// HTTP 500 and the INVALID_LOGIN SOAP fault; an unparsable envelope gives a
// soapenv:Client fault; a malformed version gives UNSUPPORTED_API_VERSION.
//
// # Tokens and sessions
//
// Access tokens look like Salesforce's: the 15-character org id, "!", then
// random base62 (00D5g000004ABCD!AR…), 112 characters in all. The Pub/Sub
// client derives the tenant id from the part before "!". A session expires
// TokenTTL after it was issued, measured on [Config.Clock]; [Provider.SetTokenTTL]
// changes the lifetime of sessions issued afterwards only, as changing the session
// timeout in Salesforce Setup does. Refresh tokens do not expire; they end only
// when revoked. [Provider.ExpireAll] and [Provider.Expire] end access tokens
// and keep refresh tokens, so a client that can refresh recovers, as it does
// after a real session timeout.
//
// Surfaces turn [ErrInvalidSession] from [Provider.Validate] into
// [WriteInvalidSession]'s 401 and read tokens with [BearerToken].
package auth
