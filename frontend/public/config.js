window.CHIRP_CONFIG = {};
