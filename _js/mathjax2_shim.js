// The ipywidgets html-manager 1.x (embed-amd.js) typesets widget labels with the MathJax 2 call
// MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]); the book loads MathJax 3, which has no
// Hub, so every widget view logged "Cannot read properties of undefined (reading 'Queue')".
// This maps that one call onto MathJax 3's typesetPromise. MathJax 3 replaces window.MathJax
// when it loads, so the Hub is re-attached whenever window.MathJax is assigned.
(function () {
  "use strict";
  function queue(cmd) {
    var el = Array.isArray(cmd) ? cmd[2] : undefined;
    var mj = window.MathJax;
    var run = function () {
      if (mj && typeof mj.typesetPromise === "function") {
        mj.typesetPromise(el ? [el] : undefined).catch(function () {});
      }
    };
    if (mj && mj.startup && mj.startup.promise) {
      mj.startup.promise.then(run);
    } else {
      run();
    }
  }
  function attach(mj) {
    if (mj && typeof mj === "object" && !mj.Hub) {
      try {
        Object.defineProperty(mj, "Hub", {value: {Queue: queue}, configurable: true});
      } catch (e) { /* a frozen object: leave it */ }
    }
  }
  var current = window.MathJax;
  attach(current);
  try {
    Object.defineProperty(window, "MathJax", {
      configurable: true,
      get: function () { return current; },
      set: function (value) { current = value; attach(value); }
    });
  } catch (e) { /* not redefinable: the object attached above is all we can do */ }
})();
