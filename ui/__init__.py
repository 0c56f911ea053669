"""The static UI (HTML, CSS, ES modules), shipped in the wheel as package data so that an installed
Tracehouse serves it too. No Python here."""
