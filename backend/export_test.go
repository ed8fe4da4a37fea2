package chirp

// DefaultIgnorable lets the external tests check the table against Unicode's own derivation.
var DefaultIgnorable = defaultIgnorable
