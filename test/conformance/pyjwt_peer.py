"""PyJWT as the independent JOSE peer of pyjwt-interop.test.ts (Debian's python3-jwt).

Reads a JSON list of jobs on stdin and writes a JSON list of results on stdout, one per job, in
order. Nothing here knows ipstamp: keys arrive as JWKs, tokens are made and checked by PyJWT
(jwt.PyJWK, jwt.PyJWKSet, jwt.encode, PyJWS and PyJWT .decode_complete), and the RFC 7638
thumbprint and the ticket hash are computed with hashlib.

Jobs:
  {"op": "sign", "jwk": {...} | null, "alg": "ES256" | null, "header": {...}, "claims": {...}}
      -> {"token"}; alg null signs `alg: none` (PyJWT's algorithm=None), jwk null then.
  {"op": "ticketed", "issuer": {jwk, alg, kid}, "client": {jwk, alg}, "ticket": {...claims},
   "stamp": {...claims}}
      -> {"ticket", "stamp", "kid", "tth"}: PyJWT signs a ticket (cnf.jwk = the client's public
      members) and a stamp under the thumbprint kid with tth = SHA-256 of the ticket text.
  {"op": "verify", "token", "jwk", "algorithms": [...], "claims": false}
      -> {"ok": true, "header", "payload"} or {"ok": false, "error"}; claims true also runs
      PyJWT's claim checks (exp, iat) through PyJWT().decode_complete. The JWK's private members
      are dropped first: PyJWT checks with the public key. payload is null when not JSON.
  {"op": "thumbprint", "jwk"} -> {"kid"}: the RFC 7638 thumbprint.
  {"op": "jwks", "jwks": {...}, "token"} -> {"keys": [{"kid", "kty", "algorithm"}], "verified"}: what
      PyJWKSet loaded, and the token checked with the key its header's kid names (its alg pinned).
"""

import base64
import hashlib
import json
import sys

import jwt
from jwt.api_jws import PyJWS
from jwt.api_jwt import PyJWT

PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")
THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "oct": ("k", "kty")}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_of(jwk):
    if jwk.get("kty") == "oct":
        return dict(jwk)
    return {name: value for name, value in jwk.items() if name not in PRIVATE_MEMBERS}


def thumbprint(jwk):
    """RFC 7638: the required members in lexicographic order, no whitespace, SHA-256."""
    members = THUMBPRINT_MEMBERS[jwk["kty"]]
    text = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(text.encode("utf-8")).digest())


def signing_key(jwk, alg):
    return jwt.PyJWK(jwk, algorithm=alg).key


def sign(job):
    alg = job.get("alg")
    key = None if alg is None else signing_key(job["jwk"], alg)
    return {"token": jwt.encode(job["claims"], key, algorithm=alg, headers=job["header"])}


def ticketed(job):
    issuer, client = job["issuer"], job["client"]
    cnf = {name: value for name, value in public_of(client["jwk"]).items() if name in THUMBPRINT_MEMBERS[client["jwk"]["kty"]]}
    ticket = jwt.encode(
        {**job["ticket"], "cnf": {"jwk": cnf}},
        signing_key(issuer["jwk"], issuer["alg"]),
        algorithm=issuer["alg"],
        headers={"typ": "ipstamp-ticket+jwt", "kid": issuer["kid"]},
    )
    kid = thumbprint(cnf)
    tth = b64url(hashlib.sha256(ticket.encode("ascii")).digest())
    stamp = jwt.encode(
        {**job["stamp"], "obs": "ticket", "tth": tth},
        signing_key(client["jwk"], client["alg"]),
        algorithm=client["alg"],
        headers={"typ": "ipstamp+jwt", "kid": kid},
    )
    return {"ticket": ticket, "stamp": stamp, "kid": kid, "tth": tth}


def claims_of(payload):
    """The payload as JSON, or None: the signature check alone does not need it to parse."""
    try:
        return json.loads(payload)
    except ValueError:
        return None


def verify(job):
    try:
        key = jwt.PyJWK(public_of(job["jwk"]), algorithm=job["algorithms"][0]).key
        if job.get("claims"):
            decoded = PyJWT().decode_complete(job["token"], key, algorithms=job["algorithms"], options={"require": ["iat"]})
            return {"ok": True, "header": decoded["header"], "payload": decoded["payload"]}
        decoded = PyJWS().decode_complete(job["token"], key, algorithms=job["algorithms"])
        return {"ok": True, "header": decoded["header"], "payload": claims_of(decoded["payload"])}
    except Exception as error:  # every refusal is an answer, reported by class
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}


def jwks(job):
    loaded = jwt.PyJWKSet.from_dict(job["jwks"])
    keys = [{"kid": key.key_id, "kty": key.key_type, "algorithm": type(key.Algorithm).__name__} for key in loaded.keys]
    header = jwt.get_unverified_header(job["token"])
    pinned = next(jwk["alg"] for jwk in job["jwks"]["keys"] if jwk["kid"] == header["kid"])
    try:
        payload = PyJWS().decode(job["token"], loaded[header["kid"]].key, algorithms=[pinned])
        return {"keys": keys, "verified": json.loads(payload)}
    except Exception as error:
        return {"keys": keys, "verified": None, "error": f"{type(error).__name__}: {error}"}


OPS = {"sign": sign, "ticketed": ticketed, "verify": verify, "jwks": jwks, "thumbprint": lambda job: {"kid": thumbprint(job["jwk"])}}


def main():
    jobs = json.load(sys.stdin)
    json.dump([OPS[job["op"]](job) for job in jobs], sys.stdout)


if __name__ == "__main__":
    main()
