"""MCP23017 16-bit I/O expander: register map, driver, and the Adafruit alternative backend."""
