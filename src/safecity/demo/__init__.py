# SPDX-License-Identifier: Apache-2.0
"""The demo: a small sample sensor network posting data through the real ingest API."""
