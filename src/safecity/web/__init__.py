# SPDX-License-Identifier: Apache-2.0
"""Web pages. For now the start page; the operations dashboard and the citizen page come later."""
