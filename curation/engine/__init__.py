"""Spark session, stage runner and the glue between per-batch transforms and DataFrames."""
