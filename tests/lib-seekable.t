#!/bin/sh
exec "$LANMAIL_BUILD/tests/lib-seekable"
