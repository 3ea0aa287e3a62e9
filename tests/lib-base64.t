#!/bin/sh
exec "$LANMAIL_BUILD/tests/lib-base64"
