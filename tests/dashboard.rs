//! The dashboard in a real browser: headless Chromium driven through ChromeDriver loads every
//! page of `dealflow serve --demo` (Ivan's story of this week and a few hundred generated deals
//! of the last months, played into a fresh database) and checks what a person would look for; it sends Nina's call report from her deal page and sees the deal
//! move. Screenshots go to `target/dashboard-screenshots/`. A second test serves a studio's
//! website on a loopback origin of its own and sends leads from it to `/f/{key}`: a plain form,
//! a `fetch()` through CORS, and both refused from an origin the form does not allow.
//!
//! Needs `chromium` and `chromedriver` (Debian's packages; `.ci/run` installs them). Without
//! them the test says it was skipped, unless `DEALFLOW_REQUIRE_BROWSER` is set (CI), when it
//! fails.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::free_port;

use fantoccini::{Client, ClientBuilder, Locator};

/// ChromeDriver in a process group of its own, killed whole when the test ends: the browsers it
/// started go with it.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        // `--`: a negative number after it is a process group, never an option.
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &group])
            .status();
        let _ = self.0.wait();
    }
}

fn find(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

fn chromedriver(driver: &Path) -> (Group, String) {
    use std::os::unix::process::CommandExt;
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("chromedriver starts");
    let child = Group(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, format!("http://127.0.0.1:{port}"))
}

async fn browser(webdriver: &str, chromium: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1600,1000", "--lang=ru-RU"],
            // A Russian browser, as the studio's people have.
            "prefs": { "intl.accept_languages": "ru-RU,ru" },
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(webdriver)
        .await
        .expect("a Chromium session")
}

fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(shots().join(format!("{name}.png")), png).expect("screenshot saved");
}

async fn text_of(c: &Client, css: &str) -> String {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.expect("text"),
        Err(e) => {
            let url = c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let _ = screenshot(c, "failure").await;
            panic!("no `{css}` on {url}: {e}")
        }
    }
}

/// Waits (at most ten seconds) until the page has this element: a click that sends a form
/// returns before the next page has loaded.
async fn wait_for(c: &Client, css: &str) {
    if let Err(e) = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
    {
        let url = c
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default();
        let _ = screenshot(c, "failure").await;
        panic!("`{css}` did not appear on {url}: {e}");
    }
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no `{css}` to click: {e}"))
        .click()
        .await
        .expect("click");
}

async fn type_into(c: &Client, css: &str, text: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no `{css}` to type into: {e}"))
        .send_keys(text)
        .await
        .expect("type");
}

async fn count(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css)).await.expect("find").len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ivans_story_on_the_dashboard_in_a_real_browser() {
    let (Some(driver), Some(chromium)) = (find("chromedriver"), find("chromium")) else {
        assert!(
            std::env::var_os("DEALFLOW_REQUIRE_BROWSER").is_none(),
            "DEALFLOW_REQUIRE_BROWSER is set but chromium/chromedriver are not installed"
        );
        eprintln!(
            "SKIPPED: the browser test needs chromium and chromedriver (apt install chromium chromium-driver)"
        );
        return;
    };
    let (_daemon, base) = common::demo_daemon();
    let (_driver, webdriver) = chromedriver(&driver);
    let c = browser(&webdriver, &chromium).await;
    let outcome = tokio::time::timeout(Duration::from_secs(240), walk(&c, &base)).await;
    let _ = c.close().await;
    outcome.expect("the walk through the dashboard finishes within four minutes");
}

async fn walk(c: &Client, base: &str) {
    // Not logged in: the login page, then the board.
    c.goto(&format!("{base}/")).await.expect("open the board");
    assert!(c.current_url().await.unwrap().path().starts_with("/login"));
    type_into(c, "#token", "wrong").await;
    click(c, "button[type=submit]").await;
    wait_for(c, "p.error").await;
    let error = text_of(c, "p.error").await;
    assert!(error.contains("Такого токена нет"), "{error}");
    type_into(c, "#token", "demo").await;
    click(c, "button[type=submit]").await;
    wait_for(c, ".board").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/");

    // The board, in Russian by default: a column per stage, each with its first cards and the
    // count of all; the demo's studio has Ivan's story of this week and a few hundred deals of
    // the last months.
    assert_eq!(text_of(c, "h1").await, "Продажи веб-студии");
    assert_eq!(count(c, ".column").await, 11, "a column per stage");
    let mut all = 0;
    for col in c.find_all(Locator::Css(".column")).await.unwrap() {
        let n: usize = col
            .find(Locator::Css(".count"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .parse()
            .unwrap();
        let cards = col.find_all(Locator::Css(".card")).await.unwrap().len();
        assert!(cards <= 12 && cards <= n, "{cards} cards of {n}");
        all += n;
    }
    assert!(all > 240, "every deal counts in a column: {all}");
    assert!(
        text_of(c, ".column[data-stage='closed'] .sum")
            .await
            .ends_with("₽")
    );
    screenshot(c, "board").await;

    // Ivan's deals where his story left them.
    for (stage, deal) in [
        ("contracted", "ivan"),
        ("closed", "ivan%2F1"),
        ("closed", "ivan%2F2"),
        ("lost", "oleg"),
        ("contract", "maria"),
        ("lead", "nina"),
    ] {
        c.goto(&format!("{base}/deals/{deal}")).await.unwrap();
        assert_eq!(
            count(c, &format!(".stages li[data-stage='{stage}']")).await,
            1,
            "{deal} is not at `{stage}`"
        );
    }
    // Found by the client's name and what the project is called: the card with its money and alert.
    c.goto(&format!("{base}/search?q=иван+интернет-магазин"))
        .await
        .unwrap();
    let ivan1 = text_of(c, ".found .card[data-deal='ivan/1']").await;
    assert!(ivan1.contains("Иван: интернет-магазин"), "{ivan1}");
    assert!(ivan1.contains("300 000 ₽"), "{ivan1}");
    assert!(
        ivan1.contains("Перерасход часов"),
        "the card shows its alert: {ivan1}"
    );

    // Out of control: Ivan's shop overran its hours, but it is closed: its alert stays on its
    // card and its page, not among what is getting out of control; overdue work is.
    c.goto(&format!("{base}/attention")).await.unwrap();
    assert_eq!(
        count(c, "tr[data-kind='alert'][data-deal='ivan/1']").await,
        0
    );
    assert_eq!(
        count(c, "tr[data-kind='overdue'][data-deal='oleg']").await,
        0,
        "tasks left open on a lost deal are not overdue work"
    );
    assert!(count(c, "tr[data-kind='overdue']").await > 0);
    assert!(
        count(c, "nav.pager a[rel='next']").await == 1,
        "a page at a time"
    );
    screenshot(c, "attention").await;

    // The shop's page: margin 190 000 ₽, hours 67 of 60, the reasons in the timeline.
    c.goto(&format!("{base}/deals/ivan%2F1")).await.unwrap();
    assert_eq!(text_of(c, "h1").await, "Иван: интернет-магазин");
    assert!(
        text_of(c, ".bar[data-figure='margin']")
            .await
            .contains("190 000 ₽")
    );
    assert!(
        text_of(c, ".bar[data-figure='hours_spent']")
            .await
            .contains("67")
    );
    assert!(
        text_of(c, ".bar[data-figure='sold_hours']")
            .await
            .contains("60")
    );
    assert_eq!(
        count(c, ".bar[data-figure='hours_spent'] rect.over").await,
        1,
        "overrun drawn red"
    );
    let timeline = text_of(c, ".timeline").await;
    assert!(
        timeline.contains("web-studio.flow:"),
        "rule file:line in the timeline"
    );
    assert!(
        timeline.contains("⚠ Тревога: Перерасход часов"),
        "{timeline}"
    );
    assert!(
        count(c, "tr[data-task='content']").await == 1,
        "tasks listed"
    );
    screenshot(c, "deal-ivan-1").await;

    // Money: what was paid, what closes in the next weeks.
    c.goto(&format!("{base}/money")).await.unwrap();
    assert!(text_of(c, "dd[data-figure='paid']").await.contains("₽"));
    assert!(
        count(c, "table.closing tr[data-deal]").await > 0,
        "projects end soon"
    );
    screenshot(c, "money").await;

    // Team and the pipeline picture.
    c.goto(&format!("{base}/team")).await.unwrap();
    for person in ["anna", "petr", "olga", "lena"] {
        assert_eq!(
            count(c, &format!("tr[data-person='{person}']")).await,
            1,
            "{person}"
        );
    }
    screenshot(c, "team").await;
    c.goto(&format!("{base}/pipeline")).await.unwrap();
    assert!(text_of(c, ".picture").await.contains("Встреча назначена"));
    screenshot(c, "pipeline").await;

    // Nina's call report from her deal page: the meeting's time and place; she moves on.
    c.goto(&format!("{base}/deals/nina")).await.unwrap();
    let form = c
        .find(Locator::Css("form[data-event='call_done']"))
        .await
        .expect("the lead stage accepts the call report");
    let when = form
        .find(Locator::Css("input[name='meeting_at']"))
        .await
        .unwrap();
    // A datetime-local field takes its value in its own format whatever the locale shows.
    c.execute(
        "arguments[0].value = '2027-12-01T15:00';",
        vec![serde_json::to_value(&when).unwrap()],
    )
    .await
    .unwrap();
    form.find(Locator::Css("input[name='meeting_place']"))
        .await
        .unwrap()
        .send_keys("Москва, Тверская, 7")
        .await
        .unwrap();
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(c, "p.flash").await;
    assert!(
        text_of(c, "p.flash").await.contains("Готово"),
        "the event was applied"
    );
    assert_eq!(
        count(c, ".stages li[data-stage='meeting']").await,
        1,
        "Nina is at the meeting stage"
    );
    let place = text_of(c, "tr[data-field='meeting_place']").await;
    assert!(place.contains("Москва, Тверская, 7"), "{place}");
    assert!(
        text_of(c, "tr[data-field='meeting_at']")
            .await
            .contains("01.12.2027 15:00")
    );
    screenshot(c, "deal-nina-after-call").await;
    c.goto(&format!("{base}/stages/meeting")).await.unwrap();
    assert_eq!(
        count(c, ".card[data-deal='nina']").await,
        1,
        "the meeting's column shows Nina"
    );

    // Analytics of the last three months: the funnel, time in stage, margin by manager, why
    // deals are lost (Oleg's reason among them).
    c.goto(&format!("{base}/analytics")).await.unwrap();
    let entered: i64 = text_of(c, ".funnel tr[data-stage='lead'] td[data-figure='entered']")
        .await
        .parse()
        .unwrap();
    assert!(entered > 50, "{entered} leads");
    assert!(count(c, ".dwell tr[data-stage]").await > 5);
    assert!(
        text_of(
            c,
            ".margin tr[data-manager='petr'] td[data-figure='margin']"
        )
        .await
        .contains("₽")
    );
    assert!(
        text_of(c, "section.lost")
            .await
            .contains("выбрал другую студию")
    );
    screenshot(c, "analytics").await;

    // Search: Ivan's deals by his name, as typed.
    c.goto(&format!("{base}/search")).await.unwrap();
    type_into(c, "#q", "иван").await;
    click(c, "form.search button[type=submit]").await;
    wait_for(c, ".found .card").await;
    for deal in ["ivan", "ivan/1", "ivan/2"] {
        assert_eq!(
            count(c, &format!(".found .card[data-deal='{deal}']")).await,
            1,
            "{deal} found"
        );
    }
    screenshot(c, "search").await;
    // A column's own page, fifty cards a page.
    c.goto(&format!("{base}/stages/closed")).await.unwrap();
    let shown = count(c, ".column .card").await;
    assert!(shown > 12 && shown <= 50, "{shown}");

    // Editing Nina's deal from her page: the amount is set; the board's column sums it.
    c.goto(&format!("{base}/deals/nina")).await.unwrap();
    click(c, "details.edit summary").await;
    type_into(c, "form.edit input[name='amount']", "125000").await;
    click(c, "form.edit button[type=submit]").await;
    wait_for(c, "p.flash").await;
    assert!(text_of(c, "p.flash").await.contains("Готово"));
    assert!(
        text_of(c, "tr[data-field='amount']")
            .await
            .contains("125 000"),
        "the deal shows its new amount"
    );

    // A timer on Nina's call: it ticks in the page (the site's own script, under its policy),
    // the team page lists it, and a pause stops it.
    click(
        c,
        "tr[data-task='call_client'] form[action$='/start'] button",
    )
    .await;
    wait_for(c, "tr[data-task='call_client'] .ticking").await;
    let ticked = c
        .execute(
            "const t = document.querySelector(\"tr[data-task='call_client'] .ticking\");\
             t.dataset.since = new Date(Date.now() - 3723000).toISOString(); tick();\
             return t.textContent;",
            Vec::new(),
        )
        .await
        .expect("the page's script runs");
    assert_eq!(ticked, serde_json::json!("1 ч 02 мин"), "the timer ticks");
    screenshot(c, "timer").await;
    c.goto(&format!("{base}/team")).await.unwrap();
    assert_eq!(count(c, "section.timers tr[data-timer]").await, 1);
    c.goto(&format!("{base}/deals/nina")).await.unwrap();
    click(
        c,
        "tr[data-task='call_client'] form[action$='/pause'] button",
    )
    .await;
    wait_for(c, "p.flash").await;
    assert_eq!(count(c, ".ticking").await, 0, "paused");
    c.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(
        text_of(c, ".column[data-stage='meeting'] .sum").await,
        "125 000 ₽",
        "leads at a meeting have no amount but Nina's"
    );

    // A new deal from the board, at the contract stage.
    click(c, "a.new").await;
    wait_for(c, "form.new").await;
    type_into(c, "input[name='_title']", "Кухня для Веры").await;
    type_into(c, "input[name='_id']", "vera").await;
    type_into(c, "form.new input[name='client_name']", "Вера").await;
    c.execute(
        "document.querySelector(\"select[name='_stage']\").value = 'contract';",
        vec![],
    )
    .await
    .unwrap();
    click(c, "form.new button[type=submit]").await;
    wait_for(c, "p.flash").await;
    assert_eq!(text_of(c, "h1").await, "Кухня для Веры");
    screenshot(c, "deal-new").await;

    // English on request.
    c.goto(&format!("{base}/?lang=en")).await.unwrap();
    assert_eq!(text_of(c, "header nav a.active").await, "Deals");
    screenshot(c, "board-en").await;
}

/// The studio's website, on an origin of its own (another loopback port), sends leads straight
/// to the daemon's `/f/{key}` in a real browser: its plain form lands on the thank-you page, its
/// script's `fetch()` reads the 201 through CORS, and the same page served from an origin the
/// form does not allow (`localhost` instead of `127.0.0.1`) is refused by the daemon and cannot
/// read an answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_website_on_another_origin_sends_leads_in_a_real_browser() {
    let (Some(driver), Some(chromium)) = (find("chromedriver"), find("chromium")) else {
        assert!(
            std::env::var_os("DEALFLOW_REQUIRE_BROWSER").is_none(),
            "DEALFLOW_REQUIRE_BROWSER is set but chromium/chromedriver are not installed"
        );
        eprintln!("SKIPPED: the website form test needs chromium and chromedriver");
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let site = format!("http://127.0.0.1:{port}");
    let dir = common::daemon::workdir("browser-forms");
    let extra = format!(
        "[[forms]]\nkey = \"contact-main\"\norigins = [\"{site}\"]\nthanks = \"{site}/thanks\"\n\
         title = \"name\"\n[forms.fields]\nname = \"client_name\"\nphone = \"client_phone\"\n"
    );
    let d = common::daemon::Daemon::start(common::daemon::config(&dir, &extra)).await;
    let action = format!("{}/f/contact-main", d.base);
    let home = format!(
        r#"<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Студия</title></head><body>
<form id="plain" method="post" action="{action}">
<input id="name" name="name"><input id="phone" name="phone">
<input name="website" tabindex="-1" autocomplete="off" hidden><button id="send">Отправить</button>
</form>
<form id="script"><input name="name" value="Олег"><input name="phone" value="+79990007777"></form>
<button id="fetch" onclick="go()">fetch</button><p id="result"></p>
<script>
async function go() {{
  const out = document.getElementById("result");
  try {{
    const r = await fetch("{action}", {{ method: "POST", body: new FormData(document.getElementById("script")) }});
    out.textContent = r.status + " " + JSON.stringify(await r.json());
  }} catch (e) {{
    out.textContent = "blocked";
  }}
}}
</script></body></html>"#
    );
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(move || async move { axum::response::Html(home) }),
        )
        .route(
            "/thanks",
            axum::routing::get(|| async {
                axum::response::Html(
                    "<!doctype html><title>Спасибо</title><p id=\"thanks\">Спасибо!</p>",
                )
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let deals = || async {
        let (_, list) = d.get("/api/v1/deals?limit=100").await;
        list["deals"].as_array().expect("deals").clone()
    };
    let (_driver, webdriver) = chromedriver(&driver);
    let c = browser(&webdriver, &chromium).await;
    let walk = async {
        // The plain form: sent by the browser itself, then the site's thank-you page.
        c.goto(&format!("{site}/")).await.expect("the site");
        type_into(&c, "#name", "Анна Петрова").await;
        type_into(&c, "#phone", "+7 916 123-45-67").await;
        click(&c, "#send").await;
        wait_for(&c, "#thanks").await;
        assert_eq!(
            c.current_url().await.expect("url").as_str(),
            format!("{site}/thanks")
        );
        let all = deals().await;
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0]["title"], "Анна Петрова");
        // The script: fetch() reads the answer, CORS allowing it.
        c.goto(&format!("{site}/")).await.expect("the site");
        click(&c, "#fetch").await;
        let said = until_text(&c, "#result").await;
        assert_eq!(said, r#"201 {"received":true}"#);
        assert_eq!(deals().await.len(), 2);
        // The same page from an origin the form does not allow.
        c.goto(&format!("http://localhost:{port}/"))
            .await
            .expect("the site");
        click(&c, "#fetch").await;
        assert_eq!(until_text(&c, "#result").await, "blocked");
        click(&c, "#send").await;
        wait_for(&c, "body > p").await;
        // Told in the form's language (the pipeline's country speaks Russian).
        assert!(
            text_of(&c, "body > p")
                .await
                .contains("Эту форму нельзя отправить с этого сайта")
        );
        assert_eq!(deals().await.len(), 2);
    };
    let outcome = tokio::time::timeout(Duration::from_secs(120), walk).await;
    let _ = c.close().await;
    outcome.expect("the website's forms work within two minutes");
    d.stop().await;
}

/// The element's text once it has some (at most ten seconds).
async fn until_text(c: &Client, css: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let t = text_of(c, css).await;
        if !t.is_empty() || Instant::now() > deadline {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
