#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Test PKI for IPFIX over TLS/DTLS (tests only; never for production).
#
# usage: scripts/make-certs.sh DIR
#
# Writes into DIR (created if needed; existing valid files are kept, so it is idempotent):
#   ca.pem ca.key             test CA ("FlowPulse Test CA")
#   collector.pem/.key        collector cert, SAN DNS:localhost, DNS:collector.test, IP:127.0.0.1
#   wrongname.pem/.key        collector cert signed by the CA, SAN DNS:wrong.test only
#   exporter.pem/.key         exporter (TLS client) cert, CN=flowpulse-exporter
#   expired.pem/.key          collector cert (localhost) that expired in 2020
#   notyet.pem/.key           collector cert (localhost) valid only from 2099
#   other-ca.pem other-ca.key another CA ("Other Test CA")
#   other-collector.pem/.key  collector cert (localhost) signed by the other CA
#   other-exporter.pem/.key   exporter cert signed by the other CA
# Validity windows outside "now" are set with `openssl ca -startdate/-enddate` (OpenSSL 3.0's
# req/x509 have no -not_before/-not_after). Keys are EC P-256.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$1
mkdir -p "$DIR"
cd "$DIR"
export OPENSSL_CONF=/dev/null

newkey() { [ -s "$1.key" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }

# mkca NAME CN
mkca() {
    newkey "$1"
    if [ ! -s "$1.pem" ]; then
        openssl req -new -x509 -key "$1.key" -out "$1.pem" -days 3650 -subj "/O=FlowPulse tests/CN=$2" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
            2>/dev/null
    fi
    mkdir -p "$1.db"
    [ -f "$1.db/index.txt" ] || : > "$1.db/index.txt"
    [ -f "$1.db/serial" ] || openssl rand -hex 8 > "$1.db/serial"
    cat > "$1.db/ca.cnf" <<CNF
[ca]
default_ca = ca_sect
[ca_sect]
database = $PWD/$1.db/index.txt
serial = $PWD/$1.db/serial
new_certs_dir = $PWD/$1.db
certificate = $PWD/$1.pem
private_key = $PWD/$1.key
default_md = sha256
policy = pol
unique_subject = no
copy_extensions = copy
[pol]
commonName = supplied
organizationName = optional
CNF
}

# mkcert NAME CA CN SAN(or "") client|server [startdate enddate]
mkcert() {
    local name=$1 ca=$2 cn=$3 san=$4 kind=$5 start=${6:-} end=${7:-}
    newkey "$name"
    [ -s "$name.pem" ] && return 0
    local eku=serverAuth ext=()
    [ "$kind" = client ] && eku=clientAuth
    [ -n "$san" ] && ext+=(-addext "subjectAltName=$san")
    openssl req -new -key "$name.key" -out "$name.csr" -subj "/O=FlowPulse tests/CN=$cn" \
        -addext "extendedKeyUsage=$eku" -addext "basicConstraints=CA:FALSE" "${ext[@]}" 2>/dev/null
    local dates=(-days 3650)
    [ -n "$start" ] && dates=(-startdate "$start" -enddate "$end")
    openssl ca -batch -config "$ca.db/ca.cnf" -in "$name.csr" -out "$name.pem" -notext \
        "${dates[@]}" >/dev/null 2>&1
    rm -f "$name.csr"
}

mkca ca "FlowPulse Test CA"
mkca other-ca "Other Test CA"
mkcert collector ca collector.test "DNS:localhost,DNS:collector.test,IP:127.0.0.1" server
mkcert wrongname ca wrong.test "DNS:wrong.test" server
mkcert exporter ca flowpulse-exporter "" client
mkcert expired ca localhost "DNS:localhost,IP:127.0.0.1" server 200101000000Z 200201000000Z
mkcert notyet ca localhost "DNS:localhost,IP:127.0.0.1" server 20990101000000Z 20991231000000Z
mkcert other-collector other-ca localhost "DNS:localhost,IP:127.0.0.1" server
mkcert other-exporter other-ca flowpulse-exporter "" client
chmod 600 ./*.key
echo "$DIR"
