// Render the math that pymdownx.arithmatex (generic mode) wrapped in \( \) and \[ \], with the vendored KaTeX.
// mkdocs-material's document$ fires on every page, including instant navigation.
(function () {
  function render(root) {
    renderMathInElement(root, {
      delimiters: [
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true },
      ],
      throwOnError: false,
    });
  }
  if (typeof document$ !== "undefined") {
    document$.subscribe(function (doc) { render(doc.body); });
  } else {
    document.addEventListener("DOMContentLoaded", function () { render(document.body); });
  }
})();
