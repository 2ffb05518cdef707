"""Grids and grid workers (网格化管理): grids under communities, the grid worker app, check tasks."""
