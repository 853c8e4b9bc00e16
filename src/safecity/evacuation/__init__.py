# SPDX-License-Identifier: Apache-2.0
"""Evacuation: shelters, hazard zones, road closures, routes and area evacuation plans."""
