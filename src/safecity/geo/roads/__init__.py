# SPDX-License-Identifier: Apache-2.0
"""Routable road networks from OpenStreetMap: import (:mod:`.osm`), storage (:mod:`.graph`), routing."""

from safecity.geo.roads.graph import RoadGraph, graph_path, load_graph

__all__ = ["RoadGraph", "graph_path", "load_graph"]
