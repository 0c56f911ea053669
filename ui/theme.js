// Light, dark or the system's choice; loaded before the page paints, so there is no flash.
(function () {
  const KEY = "th-theme";
  const apply = (theme) => {
    if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
    else delete document.documentElement.dataset.theme;
  };
  apply(localStorage.getItem(KEY));
  const LABELS = { auto: "Theme: system", light: "Theme: light", dark: "Theme: dark" };
  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("theme");
    if (!button) return;
    const show = () => { button.textContent = LABELS[localStorage.getItem(KEY) || "auto"]; };
    show();
    button.addEventListener("click", () => {
      const order = ["auto", "light", "dark"];
      const next = order[(order.indexOf(localStorage.getItem(KEY) || "auto") + 1) % order.length];
      if (next === "auto") localStorage.removeItem(KEY); else localStorage.setItem(KEY, next);
      apply(next);
      show();
    });
  });
})();
