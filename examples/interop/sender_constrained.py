"""Third-party check of issue 5 against a real `warden serve` over TLS.

Independent stack: Python `requests` (urllib3 + OpenSSL) for TLS and client certificates,
`cryptography` for the PKI, PyJWT for DPoP proofs and for reading tokens.

Usage: python3 sender_constrained.py path/to/warden [path/to/shop_service]
(with shop_service, stolen bound tokens are also replayed at the examples' payments API).
"""
import base64, datetime, hashlib, json, os, subprocess, sys, tempfile, time, uuid, socket

import jwt
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID

WARDEN = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="check5-")
API = "https://payments.shop.example"
SHOP = sys.argv[2] if len(sys.argv) > 2 else None
passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"  ok   {name}")
    else:
        failed += 1
        print(f"  FAIL {name} {detail}")


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def write(name, data):
    p = os.path.join(TMP, name)
    with open(p, "wb") as f:
        f.write(data)
    return p


def key():
    return ec.generate_private_key(ec.SECP256R1())


def pem_key(k):
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


def cert(cn, k, issuer_cert=None, issuer_key=None, ca=False, sans=(), days=(-1, 30)):
    now = datetime.datetime.now(datetime.timezone.utc)
    # Most significant RDN first, as CAs do: the RFC 4514 string is then "CN=…,O=Check".
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Check"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    b = (x509.CertificateBuilder().subject_name(name)
         .issuer_name(issuer_cert.subject if issuer_cert else name)
         .public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now + datetime.timedelta(days=days[0]))
         .not_valid_after(now + datetime.timedelta(days=days[1])))
    if ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        b = b.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                          content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False,
                                          encipher_only=False, decipher_only=False), critical=True)
    else:
        b = b.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH,
                                                   ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return b.sign(issuer_key or k, hashes.SHA256())


def pem_cert(c):
    return c.public_bytes(serialization.Encoding.PEM)


def der(c):
    return c.public_bytes(serialization.Encoding.DER)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# --- PKI -------------------------------------------------------------------------------
ca_key = key(); ca = cert("Check CA", ca_key, ca=True, days=(-1, 365))
other_ca_key = key(); other_ca = cert("Other CA", other_ca_key, ca=True, days=(-1, 365))
srv_key = key()
srv = cert("127.0.0.1", srv_key, ca, ca_key,
           sans=[x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1")), x509.DNSName("localhost")])
ca_file = write("ca.pem", pem_cert(ca))
write("server.pem", pem_cert(srv)); write("server.key", pem_key(srv_key))


def client_files(tag, c, k):
    return (write(f"{tag}.pem", pem_cert(c)), write(f"{tag}.key", pem_key(k)))


k_a = key(); good = client_files("good", cert("svc-a", k_a, ca, ca_key), k_a)
k_b = key(); wrong_dn = client_files("wrongdn", cert("svc-b", k_b, ca, ca_key), k_b)
k_c = key(); other = client_files("otherca", cert("svc-a", k_c, other_ca, other_ca_key), k_c)
k_d = key(); expired = client_files("expired", cert("svc-a", k_d, ca, ca_key, days=(-30, -1)), k_d)
k_s = key(); ss_cert = cert("self-signed-svc", k_s); selfsigned = client_files("ss", ss_cert, k_s)
k_s2 = key(); selfsigned2 = client_files("ss2", cert("self-signed-svc", k_s2), k_s2)

# --- Warden ----------------------------------------------------------------------------
port = free_port()
base = f"https://127.0.0.1:{port}"
db = f"sqlite://{TMP}/w.db"


def cli(*args):
    out = subprocess.run([WARDEN, *args, "--database", db], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"warden {' '.join(args)} failed: {out.stderr}")
    return json.loads(out.stdout) if out.stdout.strip().startswith(("{", "[")) else out.stdout.strip()


cli("api", "create", API, "--scopes", "payments:charge payments:refund", "--signing-alg", "ES256")
mtls = cli("client", "create", "--name", "svc-a", "--auth-method", "tls_client_auth",
           "--tls-subject-dn", "CN=svc-a,O=Check", "--audience", API, "--scopes", "payments:charge")
pub_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(k_s.public_key()))
pub_jwk["x5c"] = [base64.b64encode(der(ss_cert)).decode()]
jwks_file = write("ss.jwks", json.dumps({"keys": [pub_jwk]}).encode())
ss = cli("client", "create", "--name", "ss", "--auth-method", "self_signed_tls_client_auth",
         "--jwks-file", jwks_file, "--audience", API, "--scopes", "payments:charge")
sec = cli("client", "create", "--name", "dpop-svc", "--auth-method", "client_secret_basic",
          "--audience", API, "--scopes", "payments:charge")

proc = subprocess.Popen([WARDEN, "serve", "--database", db, "--listen", f"127.0.0.1:{port}",
                         "--tls-cert", f"{TMP}/server.pem", "--tls-key", f"{TMP}/server.key",
                         "--tls-client-ca", ca_file], stderr=subprocess.PIPE)
try:
    for _ in range(100):
        try:
            requests.get(base + "/healthz", verify=ca_file, timeout=1)
            break
        except Exception:
            time.sleep(0.1)
    meta = requests.get(base + "/.well-known/oauth-authorization-server", verify=ca_file).json()
    print("TLS serving and metadata")
    check("issuer is https", meta["issuer"] == base, meta["issuer"])
    check("token endpoint is https", meta["token_endpoint"].startswith("https://"))
    check("tls_client_auth advertised", "tls_client_auth" in meta["token_endpoint_auth_methods_supported"])
    check("self_signed_tls_client_auth advertised",
          "self_signed_tls_client_auth" in meta["token_endpoint_auth_methods_supported"])
    check("cert-bound tokens advertised", meta.get("tls_client_certificate_bound_access_tokens") is True)
    check("DPoP algs advertised", "ES256" in meta.get("dpop_signing_alg_values_supported", []))
    token_ep = meta["token_endpoint"]
    intro_ep = meta["introspection_endpoint"]

    def token(client_id, certfile, extra=None, headers=None, auth=None):
        data = {"grant_type": "client_credentials", "client_id": client_id, "resource": API}
        data.update(extra or {})
        return requests.post(token_ep, data=data, cert=certfile, verify=ca_file, headers=headers,
                             auth=auth)

    print("tls_client_auth")
    r = token(mtls["client_id"], good)
    check("right certificate → 200", r.status_code == 200, r.text)
    at = r.json().get("access_token", "")
    claims = jwt.decode(at, options={"verify_signature": False}) if at.count(".") == 2 else {}
    thumb = b64u(hashlib.sha256(der(x509.load_pem_x509_certificate(open(good[0], "rb").read()))).digest())
    check("token carries cnf.x5t#S256 of the certificate", claims.get("cnf", {}).get("x5t#S256") == thumb,
          claims)
    check("token_type Bearer for a cert-bound token", r.json().get("token_type") == "Bearer")
    for label, files in [("wrong DN", wrong_dn), ("other CA", other), ("expired", expired), ("no cert", None)]:
        r = token(mtls["client_id"], files)
        check(f"{label} → 401 invalid_client", r.status_code == 401 and r.json().get("error") == "invalid_client",
              f"{r.status_code} {r.text}")
    ri = requests.post(intro_ep, data={"token": at, "client_id": mtls["client_id"]}, cert=good, verify=ca_file)
    check("introspection (authenticated by mTLS) returns cnf",
          ri.status_code == 200 and ri.json().get("cnf", {}).get("x5t#S256") == thumb, ri.text)

    print("self_signed_tls_client_auth")
    r = token(ss["client_id"], selfsigned)
    check("registered self-signed certificate → 200", r.status_code == 200, r.text)
    r = token(ss["client_id"], selfsigned2)
    check("another self-signed certificate → 401", r.status_code == 401, r.text)

    print("DPoP")
    dk = key()
    djwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(dk.public_key()))
    jkt_input = json.dumps({"crv": djwk["crv"], "kty": "EC", "x": djwk["x"], "y": djwk["y"]},
                           separators=(",", ":"), sort_keys=True).encode()
    jkt = b64u(hashlib.sha256(jkt_input).digest())

    def proof(htu=None, htm="POST", nonce=None, jti=None, iat=None, k=dk, jwk_=None, ath=None):
        c = {"jti": jti or str(uuid.uuid4()), "htm": htm, "htu": htu or token_ep,
             "iat": iat or int(time.time())}
        if nonce:
            c["nonce"] = nonce
        if ath:
            c["ath"] = ath
        return jwt.encode(c, pem_key(k), algorithm="ES256",
                          headers={"typ": "dpop+jwt", "jwk": jwk_ or djwk})

    auth = (sec["client_id"], sec["client_secret"])
    r = token(sec["client_id"], None, headers={"DPoP": proof()}, auth=auth)
    check("proof without nonce → 400 use_dpop_nonce + DPoP-Nonce",
          r.status_code == 400 and r.json().get("error") == "use_dpop_nonce" and "DPoP-Nonce" in r.headers,
          r.text)
    nonce = r.headers.get("DPoP-Nonce")
    p = proof(nonce=nonce)
    r = token(sec["client_id"], None, headers={"DPoP": p}, auth=auth)
    check("proof with nonce → 200 token_type DPoP", r.status_code == 200 and r.json().get("token_type") == "DPoP",
          r.text)
    dat = r.json().get("access_token", "")
    dclaims = jwt.decode(dat, options={"verify_signature": False}) if dat.count(".") == 2 else {}
    check("token carries cnf.jkt (RFC 7638 thumbprint)", dclaims.get("cnf", {}).get("jkt") == jkt, dclaims)
    r = token(sec["client_id"], None, headers={"DPoP": p}, auth=auth)
    check("replayed proof → 400 invalid_dpop_proof", r.status_code == 400 and r.json().get("error") == "invalid_dpop_proof", r.text)
    r = token(sec["client_id"], None, headers={"DPoP": proof(nonce=nonce, htu=base + "/other")}, auth=auth)
    check("proof for another URL → invalid_dpop_proof", r.json().get("error") == "invalid_dpop_proof", r.text)
    r = token(sec["client_id"], None, headers={"DPoP": proof(nonce=nonce, htm="GET")}, auth=auth)
    check("proof for another method → invalid_dpop_proof", r.json().get("error") == "invalid_dpop_proof", r.text)
    forged = proof(nonce=nonce, k=key())  # signed by another key, claims dk's jwk
    r = token(sec["client_id"], None, headers={"DPoP": forged}, auth=auth)
    check("forged proof (signature by another key) → invalid_dpop_proof",
          r.json().get("error") == "invalid_dpop_proof", r.text)
    r = token(sec["client_id"], None, headers={"DPoP": proof(nonce=nonce, iat=int(time.time()) - 3600)}, auth=auth)
    check("stale iat → invalid_dpop_proof", r.json().get("error") == "invalid_dpop_proof", r.text)
    hs = jwt.encode({"jti": "x", "htm": "POST", "htu": token_ep, "iat": int(time.time()), "nonce": nonce},
                    "secret-secret-secret-secret-1234", algorithm="HS256", headers={"typ": "dpop+jwt", "jwk": djwk})
    r = token(sec["client_id"], None, headers={"DPoP": hs}, auth=auth)
    check("HS256 proof → invalid_dpop_proof", r.json().get("error") == "invalid_dpop_proof", r.text)
    ri = requests.post(intro_ep, data={"token": dat}, auth=auth, verify=ca_file)
    check("introspection returns token_type DPoP and cnf.jkt",
          ri.json().get("token_type") == "DPoP" and ri.json().get("cnf", {}).get("jkt") == jkt, ri.text)
    if SHOP:
        print("Stolen tokens replayed at a resource server (examples' payments service, warden-resource)")
        rs_port = free_port()
        rs_url = f"http://127.0.0.1:{rs_port}/charges"
        env = dict(os.environ, SSL_CERT_FILE=ca_file)
        rs = subprocess.Popen([SHOP, "payments", "--issuer", base, "--listen", f"127.0.0.1:{rs_port}"],
                              env=env, stderr=subprocess.PIPE)
        try:
            for _ in range(100):
                try:
                    requests.post(rs_url, timeout=1)
                    break
                except Exception:
                    time.sleep(0.1)
            plain = token(sec["client_id"], None, auth=auth).json()["access_token"]
            r = requests.post(rs_url, headers={"Authorization": f"Bearer {plain}"})
            check("a plain bearer token is accepted (control)", r.status_code == 200, r.text)
            # mTLS-bound token without its certificate (the RS connection carries none).
            r = token(mtls["client_id"], good)
            cert_bound = r.json()["access_token"]
            r = requests.post(rs_url, headers={"Authorization": f"Bearer {cert_bound}"})
            check("certificate-bound token without its certificate → 401 invalid_token",
                  r.status_code == 401 and "invalid_token" in r.headers.get("WWW-Authenticate", ""),
                  f"{r.status_code} {r.headers.get('WWW-Authenticate')}")
            # DPoP-bound token.
            r = token(sec["client_id"], None, headers={"DPoP": proof(nonce=nonce)}, auth=auth)
            if r.status_code == 400 and r.json().get("error") == "use_dpop_nonce":
                nonce = r.headers["DPoP-Nonce"]
                r = token(sec["client_id"], None, headers={"DPoP": proof(nonce=nonce)}, auth=auth)
            bound = r.json()["access_token"]
            ath = b64u(hashlib.sha256(bound.encode()).digest())
            good_proof = proof(htu=rs_url, ath=ath)
            r = requests.post(rs_url, headers={"Authorization": f"DPoP {bound}", "DPoP": good_proof})
            check("DPoP token with its proof → 200", r.status_code == 200, r.text)
            r = requests.post(rs_url, headers={"Authorization": f"DPoP {bound}", "DPoP": good_proof})
            check("replayed proof at the API → 401", r.status_code == 401, r.headers.get("WWW-Authenticate"))
            r = requests.post(rs_url, headers={"Authorization": f"Bearer {bound}"})
            check("stolen DPoP token as Bearer → 401", r.status_code == 401, r.headers.get("WWW-Authenticate"))
            thief = key()
            thief_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(thief.public_key()))
            r = requests.post(rs_url, headers={"Authorization": f"DPoP {bound}",
                                               "DPoP": proof(htu=rs_url, ath=ath, k=thief, jwk_=thief_jwk)})
            check("stolen DPoP token with the thief's own proof → 401", r.status_code == 401,
                  r.headers.get("WWW-Authenticate"))
            r = requests.post(rs_url, headers={"Authorization": f"DPoP {bound}",
                                               "DPoP": proof(htu=rs_url.replace("charges", "refunds"), ath=ath)})
            check("proof for another URL at the API → 401", r.status_code == 401, r.headers.get("WWW-Authenticate"))
            r = requests.post(rs_url, headers={"Authorization": f"DPoP {bound}", "DPoP": proof(htu=rs_url)})
            check("proof without ath → 401", r.status_code == 401, r.headers.get("WWW-Authenticate"))
        finally:
            rs.terminate()
            rs.wait(5)
finally:
    proc.terminate()
    proc.wait(5)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
