// Light, dark or the system's choice, applied before the page paints, so there is no flash.
// The button that switches it is set up by app.js (its label is translated).
(function () {
  const theme = localStorage.getItem("th-theme");
  if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
})();
