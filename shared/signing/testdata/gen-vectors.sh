#!/bin/sh
# Regenerates vectors.json with openssl and jq, independently of the Go code under test:
#   HMAC-SHA256 via `openssl dgst -sha256 -mac HMAC -macopt hexkey:<key as hex>`, then hex or base64.
# A whsec_ secret's key is the base64-decoded remainder; any other secret is its raw bytes.
# Run from this directory: ./gen-vectors.sh > vectors.json
set -eu

id=msg_2Kq1x7ZbF0aYt3mVh6cD9wRnEo
ts=1767225600
body='{"id":"msg_2Kq1x7ZbF0aYt3mVh6cD9wRnEo","type":"invoice.paid","data":{"invoiceId":"inv_42","amount":1999}}'

keyhex() {
	case "$1" in
	whsec_* | whcms_*) printf '%s' "${1#wh???_}" | base64 -d | od -An -v -tx1 | tr -d ' \n' ;;
	*) printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n' ;;
	esac
}

mac() { # secret content encoding
	k=$(keyhex "$1")
	if [ "$3" = hex ]; then
		printf '%s' "$2" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$k" -binary | od -An -v -tx1 | tr -d ' \n'
	else
		printf '%s' "$2" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$k" -binary | base64 -w0
	fi
}

first=1
printf '{\n  "generator": "testdata/gen-vectors.sh (openssl dgst -sha256 -mac HMAC)",\n  "vectors": [\n'
for secret in whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw partner-signing-secret-7; do
	for payload in rawBody timestamp.rawBody id.timestamp.rawBody; do
		case $payload in
		rawBody) content=$body ;;
		timestamp.rawBody) content="$ts.$body" ;;
		id.timestamp.rawBody) content="$id.$ts.$body" ;;
		esac
		for enc in hex base64; do
			[ $first = 1 ] || printf ',\n'
			first=0
			jq -cn --arg s "$secret" --arg p "$payload" --arg e "$enc" --arg id "$id" --argjson ts "$ts" \
				--arg b "$body" --arg sig "$(mac "$secret" "$content" "$enc")" \
				'{secret:$s, signedPayload:$p, encoding:$e, id:$id, timestamp:$ts, body:$b, signature:$sig}' |
				sed 's/^/    /' | tr -d '\n'
		done
	done
done
printf '\n  ]\n}\n'
