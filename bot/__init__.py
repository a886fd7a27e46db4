"""Composition root of Vraagbaak: settings, wiring, the web servers and the CLI."""
