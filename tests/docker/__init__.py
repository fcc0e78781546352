"""The container: its entrypoint and gunicorn run for real, its files checked statically."""
