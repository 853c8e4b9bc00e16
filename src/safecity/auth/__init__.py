# SPDX-License-Identifier: Apache-2.0
"""Who may call what: people (OAuth2 password flow + JWT), devices (API keys), roles."""
