// The design system's components, then two small helpers for error summaries.
// No inline scripts anywhere: the content security policy allows only this site's files.
import "./sgds/scripts/design-system.js";

// The design system styles some components (tables that become boxes on a small screen) only
// once it knows scripts run; its pages set this class from an inline script, which the content
// security policy forbids here.
document.documentElement.classList.add("js-enabled");
window.DS.initAll();

// Move focus to the error summary so screen readers announce it, and make its links
// focus the field they name (not just scroll to it).
const summary = document.getElementById("error-summary");
if (summary) {
  summary.focus();
  summary.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='#']");
    if (!link) {
      return;
    }
    const target = document.getElementById(link.getAttribute("href").slice(1));
    if (target) {
      event.preventDefault();
      target.scrollIntoView({ block: "center" });
      target.focus();
    }
  });
}

// A submit button must not send its form twice on a double click; the server replays a
// resubmitted form anyway, this only spares a second round trip.
document.querySelectorAll("form[method='post']").forEach((form) => {
  form.addEventListener("submit", () => {
    window.setTimeout(() => {
      form.querySelectorAll("button[type='submit']").forEach((button) => {
        button.setAttribute("aria-disabled", "true");
      });
    }, 0);
  });
});

// Coming back to a page from the browser's history re-enables its buttons.
window.addEventListener("pageshow", () => {
  document.querySelectorAll("button[aria-disabled='true']").forEach((button) => {
    button.removeAttribute("aria-disabled");
  });
});
