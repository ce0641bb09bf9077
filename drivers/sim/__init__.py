"""Register-accurate simulators of the station's parts: a first-class backend, not a test patch.

``SimSMBus`` stands in for ``smbus2.SMBus``; ``SimMCP23017`` behaves as the datasheet says;
``wiring`` connects pins to each other and to simulated Pi GPIO, as the fixture's loopbacks do.
"""
