# SPDX-License-Identifier: Apache-2.0
"""Limits and hygiene of the HTTP edge: body size, rate and time limits, security headers, CORS,
request ids and the production-mode checks. Pure ASGI middleware, so streamed bodies and Server-Sent
Events pass through without being buffered."""
