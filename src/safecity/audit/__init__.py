# SPDX-License-Identifier: Apache-2.0
"""Audit capability: an append-only, hash-chained log of who did what, when and from where."""
