# SPDX-License-Identifier: Apache-2.0
"""Geography: administrative areas, imported layers, the road network, OGC API - Features."""
