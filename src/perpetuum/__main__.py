"""`python -m perpetuum` is the same as the `perpetuum` command."""

from perpetuum.cli import app

if __name__ == "__main__":
    app(prog_name="perpetuum")
