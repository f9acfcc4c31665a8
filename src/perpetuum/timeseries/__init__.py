"""Time series: learn a real series of prices or returns and sample many plausible paths and shock scenarios."""
