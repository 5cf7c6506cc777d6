// Appended to a copy of a rendered digest by tests/test_render_browser.py (never to real mail).
// Runs inside the iframe that holds the digest; writes a JSON report into the parent page (the
// one --dump-dom prints) as <pre id="dg-measure">.
(function () {
  var width = window.innerWidth;
  var root = document.documentElement;
  var overflowing = [];
  var all = document.body.getElementsByTagName("*");
  for (var i = 0; i < all.length; i++) {
    var r = all[i].getBoundingClientRect();
    if (r.width > 0 && (r.right > width + 0.5 || r.left < -0.5) && overflowing.length < 5) {
      overflowing.push({tag: all[i].tagName, cls: all[i].className, left: r.left, right: r.right,
                        text: (all[i].textContent || "").slice(0, 60)});
    }
  }
  var titles = [];
  var links = document.querySelectorAll("a.dg-title");
  for (var j = 0; j < links.length; j++) {
    var a = links[j];
    a.scrollIntoView({block: "center"});
    var box = a.getBoundingClientRect();
    var style = window.getComputedStyle(a);
    // Visible = laid out inside the viewport, not hidden, and on top where its first line is
    // (the middle of a multi-line link's box can fall between two of its line fragments).
    var line = a.getClientRects()[0] || box;
    var top = document.elementFromPoint(line.left + Math.min(line.width / 2, 20),
                                        line.top + line.height / 2);
    titles.push({
      text: a.textContent.replace(/\s+/g, " ").trim(),
      visible: box.width > 0 && box.height > 0 && box.left >= 0 && box.right <= width + 0.5 &&
        style.visibility === "visible" && style.display !== "none" && Number(style.opacity) > 0 &&
        parseFloat(style.fontSize) >= 14 && top !== null && (top === a || a.contains(top)),
      fontSize: style.fontSize,
      box: [Math.round(box.left), Math.round(box.top), Math.round(box.right), Math.round(box.bottom)],
      atCentre: top === null ? null : top.tagName + "." + top.className
    });
  }
  // The "More like this" / "Less like this" links: shown, inside the page, on top, big enough to tap.
  var votes = [];
  var voteLinks = document.querySelectorAll(".dg-vote a");
  for (var k = 0; k < voteLinks.length; k++) {
    var v = voteLinks[k];
    v.scrollIntoView({block: "center"});
    var vbox = v.getBoundingClientRect();
    var vstyle = window.getComputedStyle(v);
    var vtop = document.elementFromPoint(vbox.left + Math.min(vbox.width / 2, 20), vbox.top + vbox.height / 2);
    votes.push({
      text: v.textContent.replace(/\s+/g, " ").trim(),
      visible: vbox.width >= 40 && vbox.height >= 14 && vbox.left >= 0 && vbox.right <= width + 0.5 &&
        vstyle.visibility === "visible" && vstyle.display !== "none" && vtop !== null &&
        (vtop === v || v.contains(vtop))
    });
  }
  // Topic sections: what the contents say (heading, count) and what each section holds.
  var contents = [];
  var tocTopics = document.querySelectorAll(".dg-toc-topic");
  for (var m = 0; m < tocTopics.length; m++) {
    var link = tocTopics[m].querySelector("a");
    var count = tocTopics[m].querySelector(".dg-toc-count");
    contents.push({
      heading: link.textContent.replace(/\s+/g, " ").trim(),
      target: link.getAttribute("href"),
      count: count ? parseInt(count.textContent.replace(/[^0-9]/g, ""), 10) : null
    });
  }
  var sections = [];
  var topicDivs = document.querySelectorAll(".dg-topic");
  for (var n = 0; n < topicDivs.length; n++) {
    var head = topicDivs[n].querySelector(".dg-topic-head");
    var hbox = head.getBoundingClientRect();
    var numbers = [];
    var inside = topicDivs[n].querySelectorAll(".dg-paper");
    for (var q = 0; q < inside.length; q++) {
      numbers.push(parseInt(inside[q].id.replace("paper", ""), 10));
    }
    sections.push({
      id: topicDivs[n].id,
      heading: head.textContent.replace(/\s+/g, " ").trim(),
      numbers: numbers,
      headingInside: hbox.width > 0 && hbox.left >= 0 && hbox.right <= width + 0.5
    });
  }
  window.scrollTo(0, 0);
  var report = {
    contents: contents,
    sections: sections,
    votes: votes,
    viewport: width,
    scrollWidth: Math.max(root.scrollWidth, document.body.scrollWidth),
    height: Math.max(root.scrollHeight, document.body.scrollHeight),
    overflowing: overflowing,
    titles: titles,
    pwned: window.pwned === undefined ? null : window.pwned
  };
  var out = window.parent.document;
  var pre = out.createElement("pre");
  pre.id = "dg-measure";
  pre.textContent = JSON.stringify(report);
  out.body.appendChild(pre);
})();
