#!/bin/sh
# vectors.sh PKI_DIR OUT_DIR — signature vectors made by the openssl command
# line (not by tokenrig's code), for check_crypto to verify through
# tr_verify_token_signature and tr_verify_message_der.
#
# Keys: <alg>-valid.key.pem from a `mkpki fixture-set` directory.
# Writes into OUT_DIR:
#   msg.bin, empty.bin                     the messages
#   <alg>.dgst.sig, <alg>.empty.sig        openssl dgst -sign (SM2: SM3 + distid
#                                          1234567812345678; others SHA-256)
#   sm2.e.bin                              e = SM3(Z_A || msg), Z_A computed
#                                          here from the GM/T 0003 curve
#                                          constants and the public key
#   sm2.pkeyutl.sig                        openssl pkeyutl -sign of that e
#   ecdsa.digest.bin, ecdsa.pkeyutl.sig    SHA-256(msg) and its raw signature
#   rsa.digestinfo.bin, rsa.pkeyutl.sig    DER DigestInfo(SHA-256(msg)) and
#                                          its PKCS#1 v1.5 signature
set -eu
pki=${1:?usage: vectors.sh PKI_DIR OUT_DIR}
out=${2:?usage: vectors.sh PKI_DIR OUT_DIR}
mkdir -p "$out"

hex2bin() { xxd -r -p; }

printf 'tokenrig vector: bid 2026-0042, \346\212\225\346\240\207\346\226\207\344\273\266' > "$out/msg.bin"
: > "$out/empty.bin"

ID=1234567812345678
for alg in sm2 ecdsa rsa; do
    key="$pki/$alg-valid.key.pem"
    [ -r "$key" ] || { echo "vectors.sh: no $key (run mkpki fixture-set)" >&2; exit 1; }
    if [ $alg = sm2 ]; then
        set -- -sm3 -sigopt "distid:$ID"
    else
        set -- -sha256
    fi
    openssl dgst "$@" -sign "$key" -out "$out/$alg.dgst.sig" "$out/msg.bin"
    openssl dgst "$@" -sign "$key" -out "$out/$alg.empty.sig" "$out/empty.bin"
done

# SM2: Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA), GM/T 0003.2
A=FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B=28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
GX=32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY=BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
# the uncompressed point is the last 64 bytes of the SubjectPublicKeyInfo
XY=$(openssl pkey -in "$pki/sm2-valid.key.pem" -pubout -outform DER | tail -c 64 | xxd -p | tr -d '\n')
IDHEX=$(printf '%s' "$ID" | xxd -p)
printf '0080%s%s%s%s%s%s' "$IDHEX" $A $B $GX $GY "$XY" | hex2bin \
    | openssl dgst -sm3 -binary > "$out/sm2.za.bin"
cat "$out/sm2.za.bin" "$out/msg.bin" | openssl dgst -sm3 -binary > "$out/sm2.e.bin"
openssl pkeyutl -sign -inkey "$pki/sm2-valid.key.pem" -in "$out/sm2.e.bin" \
    -out "$out/sm2.pkeyutl.sig"

# ECDSA over the precomputed SHA-256
openssl dgst -sha256 -binary "$out/msg.bin" > "$out/ecdsa.digest.bin"
openssl pkeyutl -sign -inkey "$pki/ecdsa-valid.key.pem" -in "$out/ecdsa.digest.bin" \
    -out "$out/ecdsa.pkeyutl.sig"

# RSA: the 51-byte DigestInfo a REF-1 token is given, signed with raw PKCS#1 v1.5
{ printf '3031300d060960864801650304020105000420' | hex2bin
  openssl dgst -sha256 -binary "$out/msg.bin"; } > "$out/rsa.digestinfo.bin"
openssl pkeyutl -sign -inkey "$pki/rsa-valid.key.pem" -pkeyopt rsa_padding_mode:pkcs1 \
    -in "$out/rsa.digestinfo.bin" -out "$out/rsa.pkeyutl.sig"
