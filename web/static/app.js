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

// A pooled contract's form shows, as people type, how the amount splits between the pots:
// whole pence, largest remainder, ties to the earlier pot, as ledger/money.py splits it. The
// server checks and splits again; this only says early whether the shares read right.
const sharesInput = document.querySelector("[data-split='shares']");
const amountInput = document.getElementById("amount");
const splitOutput = document.getElementById("shares-split");
if (sharesInput && amountInput && splitOutput) {
  const pence = (typed) => {
    const cleaned = typed.trim().replace(/^£/, "").replace(/,/g, "");
    const found = /^(\d{1,10})(?:\.(\d{1,2}))?$/.exec(cleaned);
    if (!found) {
      return null;
    }
    return Number(found[1]) * 100 + Number((found[2] || "0").padEnd(2, "0"));
  };
  const pounds = (value) =>
    "£" +
    Math.floor(value / 100).toLocaleString("en-GB") +
    "." +
    String(value % 100).padStart(2, "0");
  const show = () => {
    const pairs = [];
    for (const part of sharesInput.value.split(";")) {
      if (!part.trim()) {
        continue;
      }
      const at = part.lastIndexOf("=");
      const name = part.slice(0, at).trim();
      const weight = part.slice(at + 1).trim();
      if (at < 0 || !name || !/^\d{1,12}$/.test(weight) || Number(weight) === 0) {
        splitOutput.textContent = `Write "${part.trim()}" as a pot and its share, such as WFWF 2022-23=3.`;
        return;
      }
      pairs.push([name, Number(weight)]);
    }
    const total = pence(amountInput.value);
    if (pairs.length < 2 || total === null) {
      splitOutput.textContent = "Name at least two pots and their shares, and the amount, to see the split.";
      return;
    }
    const whole = pairs.reduce((sum, [, weight]) => sum + weight, 0);
    const parts = pairs.map(([, weight]) => Math.floor((total * weight) / whole));
    const order = pairs
      .map(([, weight], index) => [((total * weight) % whole), index])
      .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    let left = total - parts.reduce((sum, part) => sum + part, 0);
    for (const [, index] of order) {
      if (left <= 0) {
        break;
      }
      parts[index] += 1;
      left -= 1;
    }
    splitOutput.textContent =
      "Split: " + pairs.map(([name], index) => `${pounds(parts[index])} from ${name}`).join(", ") + ".";
  };
  sharesInput.addEventListener("input", show);
  amountInput.addEventListener("input", show);
  show();
}
