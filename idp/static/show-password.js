// Show-password control (issue 12, item 3): with JavaScript, the "Show the password"
// box switches every password field of its form at once. Before the form leaves, the
// fields go back to type=password so that no browser keeps the text in its form history.
// Without JavaScript the box is sent with the form and the server does the same.
(function () {
  "use strict";
  function fields(box) {
    return box.form ? box.form.querySelectorAll("input[data-password]") : [];
  }
  function apply(box) {
    fields(box).forEach(function (input) {
      input.type = box.checked ? "text" : "password";
    });
  }
  document.querySelectorAll("input[name=show_password]").forEach(function (box) {
    box.addEventListener("change", function () { apply(box); });
    apply(box);
    if (box.form) {
      box.form.addEventListener("submit", function () {
        fields(box).forEach(function (input) { input.type = "password"; });
      });
    }
  });
})();
