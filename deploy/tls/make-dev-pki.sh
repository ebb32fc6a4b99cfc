#!/usr/bin/env bash
# Create a throw-away PKI for a local trial of the TLS 1.3 + client-certificate edge.
#
#   deploy/tls/make-dev-pki.sh OUTDIR
#
# Never use these files in production: every key is generated unprotected on the
# local disk and the CAs live for DEV_PKI_DAYS days only.
#
# OUTDIR receives (names match deploy/nginx/portal.conf.template and SECURITY.md §3.5):
#
#   for nginx (PORTAL_TLS_DIR)
#     server-fullchain.pem   server certificate (localhost, 127.0.0.1[, $DEV_PKI_SERVER_NAME]) + root CA
#     server.key             its key
#     client-ca-chain.pem    institution issuing CA + root CA (CAs trusted for client certificates)
#     client-ca.crl.pem      CRLs of both CAs above; the issuing CA's CRL revokes revoked.pem
#   for clients
#     ca.pem                 root CA: trust anchor for the server certificate
#     client.pem/.key        valid client certificate (健診機関 1312345678, Japanese O= attribute)
#     revoked.pem/.key       client certificate of 保険者 06123456, revoked in the CRL
#     rogue.pem/.key         client certificate issued by foreign-ca.pem, a CA nginx does not trust
#     foreign-ca.pem         that foreign CA
#   ca-db/                   openssl ca databases, so more certificates can be issued or revoked
#
# Environment:
#   DEV_PKI_DAYS          validity of every certificate and CRL, in days (default 30)
#   DEV_PKI_SERVER_NAME   extra DNS name for the server certificate (e.g. portal.example.test)
#
# Requires: openssl 1.1.1 or 3.x.  All keys are ECDSA P-256, all signatures SHA-256
# (TLS暗号設定ガイドライン 高セキュリティ型).

set -euo pipefail

usage() {
    echo "usage: $0 OUTDIR" >&2
    exit 2
}

[ $# -eq 1 ] || usage
out=$1
days=${DEV_PKI_DAYS:-30}
server_name=${DEV_PKI_SERVER_NAME:-}

command -v openssl >/dev/null || { echo "$0: openssl not found" >&2; exit 1; }
if [ -e "$out/ca.pem" ]; then
    echo "$0: $out already holds a PKI (ca.pem exists); remove it first" >&2
    exit 1
fi

umask 077
mkdir -p "$out/ca-db"
out=$(cd "$out" && pwd)
db=$out/ca-db

# --- helpers -----------------------------------------------------------------

new_key() {  # new_key PATH
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# init_ca NAME: an `openssl ca` database and config under $db/NAME
init_ca() {
    local name=$1 dir=$db/$1
    mkdir -p "$dir/issued"
    : >"$dir/index.txt"
    openssl rand -hex 16 >"$dir/serial"
    echo 1000 >"$dir/crlnumber"
    cat >"$dir/ca.cnf" <<EOF
[ ca ]
default_ca = this_ca

[ this_ca ]
dir              = $dir
database         = \$dir/index.txt
serial           = \$dir/serial
crlnumber        = \$dir/crlnumber
new_certs_dir    = \$dir/issued
certificate      = \$dir/ca.pem
private_key      = \$dir/ca.key
default_md       = sha256
default_days     = $days
default_crl_days = $days
policy           = policy_any
unique_subject   = no
copy_extensions  = none
preserve         = yes
utf8             = yes
string_mask      = utf8only
email_in_dn      = no

[ policy_any ]
countryName            = optional
organizationName       = optional
organizationalUnitName = optional
commonName             = supplied

[ ext_issuing_ca ]
basicConstraints       = critical, CA:true, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ ext_server ]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
subjectAltName         = \$ENV::DEV_PKI_SAN

[ ext_client ]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ ext_crl ]
authorityKeyIdentifier = keyid:always
EOF
}

# self_signed_ca NAME SUBJECT
self_signed_ca() {
    local dir=$db/$1
    init_ca "$1"
    new_key "$dir/ca.key"
    openssl req -new -x509 -utf8 -sha256 -days "$days" -key "$dir/ca.key" -subj "$2" \
        -addext "basicConstraints=critical,CA:true" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" \
        -out "$dir/ca.pem"
}

# issue CA_NAME EXT SUBJECT KEY_OUT CERT_OUT
issue() {
    local dir=$db/$1 csr
    csr=$(mktemp "$db/csr.XXXXXX")
    new_key "$4"
    openssl req -new -utf8 -sha256 -key "$4" -subj "$3" -out "$csr"
    openssl ca -batch -notext -config "$dir/ca.cnf" -extensions "$2" -in "$csr" -out "$5" 2>/dev/null
    rm -f "$csr"
}

gencrl() {  # gencrl CA_NAME OUT
    openssl ca -batch -config "$db/$1/ca.cnf" -gencrl -crlexts ext_crl -out "$2" 2>/dev/null
}

# --- the agency's hierarchy --------------------------------------------------

export DEV_PKI_SAN="DNS:localhost,IP:127.0.0.1${server_name:+,DNS:$server_name}"

self_signed_ca root "/C=JP/O=Dev Kenshin Agency/CN=Dev Agency Root CA"

# issuing CA for institution and insurer client certificates
init_ca clients
new_key "$db/clients/ca.key"
issue_csr=$(mktemp "$db/csr.XXXXXX")
openssl req -new -utf8 -sha256 -key "$db/clients/ca.key" \
    -subj "/C=JP/O=Dev Kenshin Agency/CN=Dev Agency Client Issuing CA" -out "$issue_csr"
openssl ca -batch -notext -config "$db/root/ca.cnf" -extensions ext_issuing_ca \
    -in "$issue_csr" -out "$db/clients/ca.pem" 2>/dev/null
rm -f "$issue_csr"

issue root ext_server "/C=JP/O=Dev Kenshin Agency/CN=localhost" "$out/server.key" "$db/server.pem"
cat "$db/server.pem" "$db/root/ca.pem" >"$out/server-fullchain.pem"
rm -f "$db/server.pem"

issue clients ext_client "/C=JP/O=テスト健診センター/OU=1312345678/CN=dev-institution-1312345678" \
    "$out/client.key" "$out/client.pem"
issue clients ext_client "/C=JP/O=Dev Insurer/OU=06123456/CN=dev-insurer-06123456" \
    "$out/revoked.key" "$out/revoked.pem"
openssl ca -batch -config "$db/clients/ca.cnf" -revoke "$out/revoked.pem" -crl_reason keyCompromise 2>/dev/null

# nginx needs a current CRL for every CA in the client chain (ssl_crl)
gencrl root "$db/root.crl.pem"
gencrl clients "$db/clients.crl.pem"
cat "$db/clients.crl.pem" "$db/root.crl.pem" >"$out/client-ca.crl.pem"
rm -f "$db/root.crl.pem" "$db/clients.crl.pem"

cat "$db/clients/ca.pem" "$db/root/ca.pem" >"$out/client-ca-chain.pem"
cp "$db/root/ca.pem" "$out/ca.pem"

# --- a CA nobody trusts --------------------------------------------------------

self_signed_ca foreign "/C=JP/O=Somebody Else/CN=Foreign CA"
issue foreign ext_client "/C=JP/O=Somebody Else/OU=1399999999/CN=rogue-client" "$out/rogue.key" "$out/rogue.pem"
cp "$db/foreign/ca.pem" "$out/foreign-ca.pem"

# certificates are public; keys stay 0600
chmod 0644 "$out"/*.pem

echo "dev PKI written to $out (valid $days days)"
