"""Third-party check: JWE access tokens decrypted with jwcrypto, inner JWS verified against /jwks.

Usage: python3 encrypted_tokens.py path/to/warden
"""
import json, subprocess, sys, tempfile, time, requests, socket
from jwcrypto import jwk, jwe, jwt as jjwt
W = sys.argv[1]; T = tempfile.mkdtemp(); db = f"sqlite://{T}/w.db"
def cli(*a):
    o = subprocess.run([W, *a, "--database", db], capture_output=True, text=True)
    assert o.returncode == 0, o.stderr
    return json.loads(o.stdout)
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
privs = {}
for kty, alg in [("EC", "ECDH-ES"), ("RSA", "RSA-OAEP-256")]:
    k = jwk.JWK.generate(kty="EC", crv="P-256") if kty == "EC" else jwk.JWK.generate(kty="RSA", size=2048)
    privs[kty] = k
    pub = json.loads(k.export_public()); pub["kid"] = f"enc-{kty}"; pub["use"] = "enc"
    open(f"{T}/{kty}.json", "w").write(json.dumps(pub))
    cli("api", "create", f"https://secret-{kty.lower()}.example", "--scopes", "read",
        "--encryption-key-file", f"{T}/{kty}.json", "--encryption-alg", alg)
c = cli("client", "create", "--name", "c", "--auth-method", "client_secret_basic",
        "--audience", "https://secret-ec.example", "--audience", "https://secret-rsa.example", "--scopes", "read")
p = subprocess.Popen([W, "serve", "--database", db, "--listen", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}"; fails = 0
try:
    for _ in range(100):
        try: requests.get(base + "/healthz", timeout=1); break
        except Exception: time.sleep(0.1)
    keys = jwk.JWKSet.from_json(requests.get(base + "/jwks").text)
    for kty, alg in [("EC", "ECDH-ES"), ("RSA", "RSA-OAEP-256")]:
        api = f"https://secret-{kty.lower()}.example"
        r = requests.post(base + "/token", data={"grant_type": "client_credentials", "resource": api},
                          auth=(c["client_id"], c["client_secret"])).json()
        tok = r["access_token"]
        e = jwe.JWE(); e.deserialize(tok, key=privs[kty])
        hdr = json.loads(e.objects["protected"])
        inner = e.payload.decode()
        t = jjwt.JWT(jwt=inner, key=keys, expected_type="JWS")
        claims = json.loads(t.claims); jh = json.loads(t.token.objects["protected"])
        good = (tok.count(".") == 4 and hdr["alg"] == alg and hdr["enc"] == "A256GCM" and hdr.get("cty") == "JWT"
                and jh["typ"] == "at+jwt" and claims["aud"] == api and claims["client_id"] == c["client_id"])
        print("ok  " if good else "FAIL", kty, hdr, jh.get("typ"), claims.get("aud"))
        fails += not good
        intro = requests.post(base + "/introspect", data={"token": tok}, auth=(c["client_id"], c["client_secret"])).json()
        intro2 = requests.post(base + "/introspect", data={"token": inner}, auth=(c["client_id"], c["client_secret"])).json()
        good = intro == {"active": False} and intro2.get("active") is True
        print("ok  " if good else "FAIL", "introspection: JWE inactive, inner JWS active", intro, intro2.get("active"))
        fails += not good
finally:
    p.terminate(); p.wait(5)
sys.exit(1 if fails else 0)
