"""The Pi GPIO error every station module may name, without loading gpiozero to do so."""


class PiGPIOUnavailableError(RuntimeError):
    """Real Pi GPIO was asked for but can't be opened (lgpio missing, or not a Raspberry Pi)."""
