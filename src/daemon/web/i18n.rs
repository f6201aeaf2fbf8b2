//! The dashboard's words in Russian and English. The pipeline's own titles (stages, phases,
//! alerts, fields, roles) come from the rule file and are not translated.

/// A language of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lang {
    /// Русский (the default).
    Ru,
    /// English.
    En,
}

impl Lang {
    /// `ru` / `en`.
    pub(super) fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    /// A language by its code (`ru`, `en`, `en-GB`…).
    pub(super) fn from_code(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        if s.starts_with("ru") {
            Some(Lang::Ru)
        } else if s.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The first of Russian and English the browser lists in `Accept-Language`, by its
    /// preference weights.
    pub(super) fn from_accept(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut it = part.split(';');
            let Some(lang) = it.next().and_then(Lang::from_code) else {
                continue;
            };
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }

    /// The words of this language.
    pub(super) fn words(self) -> &'static Words {
        match self {
            Lang::Ru => &RU,
            Lang::En => &EN,
        }
    }
}

/// Every fixed text of the pages.
#[derive(Debug)]
pub(super) struct Words {
    pub board: &'static str,
    pub money: &'static str,
    pub attention: &'static str,
    pub team: &'static str,
    pub pipeline: &'static str,
    pub log_out: &'static str,
    pub log_in: &'static str,
    pub token: &'static str,
    pub token_hint: &'static str,
    pub wrong_token: &'static str,
    pub days_in_stage: &'static str,
    pub more: &'static str,
    pub also_at: &'static str,
    pub create: &'static str,
    pub start_at: &'static str,
    pub id_hint: &'static str,
    pub id_word: &'static str,
    pub title_word: &'static str,
    pub new_deal: &'static str,
    pub save: &'static str,
    pub edit: &'static str,
    pub no_such_stage: &'static str,
    pub nothing_found: &'static str,
    pub search_hint: &'static str,
    pub search: &'static str,
    pub page_word: &'static str,
    pub next_page: &'static str,
    pub prev_page: &'static str,
    pub waits_at: &'static str,
    pub other_stages: &'static str,
    pub closing_soon: &'static str,
    pub within_days: &'static str,
    pub show: &'static str,
    pub planned_end: &'static str,
    pub amount: &'static str,
    pub total: &'static str,
    pub by_week: &'static str,
    pub week_of: &'static str,
    pub paid: &'static str,
    pub invoiced: &'static str,
    pub nothing_closing: &'static str,
    pub all_under_control: &'static str,
    pub overdue_task: &'static str,
    pub undelivered: &'static str,
    pub reload_refused: &'static str,
    pub refused_lately: &'static str,
    pub overdue_by: &'static str,
    pub attempts: &'static str,
    pub deal: &'static str,
    pub what: &'static str,
    pub since: &'static str,
    pub fields: &'static str,
    pub stages: &'static str,
    pub history: &'static str,
    pub tasks: &'static str,
    pub task: &'static str,
    pub assignee: &'static str,
    pub due: &'static str,
    pub estimate: &'static str,
    pub spent: &'static str,
    pub worked: &'static str,
    pub done: &'static str,
    pub cancelled: &'static str,
    pub started: &'static str,
    pub open: &'static str,
    pub start: &'static str,
    pub finish: &'static str,
    pub log_time: &'static str,
    pub hours: &'static str,
    pub who: &'static str,
    pub hours_sold: &'static str,
    pub hours_spent: &'static str,
    pub labour_cost: &'static str,
    pub margin: &'static str,
    pub events: &'static str,
    pub send: &'static str,
    pub no_events: &'static str,
    pub applied: &'static str,
    pub refused: &'static str,
    pub read_only: &'static str,
    pub not_genuine: &'static str,
    pub personal_data: &'static str,
    pub opted_out: &'static str,
    pub opt_out: &'static str,
    pub opt_in: &'static str,
    pub erase: &'static str,
    pub erase_confirm: &'static str,
    pub too_many_logins: &'static str,
    pub parent: &'static str,
    pub rule: &'static str,
    pub version: &'static str,
    pub person: &'static str,
    pub roles: &'static str,
    pub open_tasks: &'static str,
    pub overdue_tasks: &'static str,
    pub hours_this_week: &'static str,
    pub not_found: &'static str,
    pub forbidden: &'static str,
    pub no_value: &'static str,
    pub json_hint: &'static str,
    pub refreshed: &'static str,
    pub rules_version: &'static str,
    pub finished: &'static str,
}

static RU: Words = Words {
    board: "Сделки",
    money: "Деньги",
    attention: "Вне контроля",
    team: "Команда",
    pipeline: "Схема",
    log_out: "Выйти",
    log_in: "Войти",
    token: "Токен доступа",
    token_hint: "Токен из dealflow.toml (раздел [[tokens]]).",
    wrong_token: "Такого токена нет.",
    days_in_stage: "дн. на этапе",
    more: "ещё",
    also_at: "также",
    create: "Создать",
    start_at: "Начать с этапа",
    id_hint: "пусто — придумаем сами",
    id_word: "Номер",
    title_word: "Название",
    new_deal: "Новая сделка",
    save: "Сохранить",
    edit: "Изменить сделку",
    no_such_stage: "Такого этапа в схеме нет.",
    nothing_found: "Ничего не найдено.",
    search_hint: "имя, телефон, email, номер или название сделки",
    search: "Поиск",
    page_word: "стр.",
    next_page: "дальше →",
    prev_page: "← назад",
    waits_at: "ждёт на этапе",
    other_stages: "Вне этапов",
    closing_soon: "Скоро закроются",
    within_days: "в ближайшие дни",
    show: "Показать",
    planned_end: "Плановая сдача",
    amount: "Сумма",
    total: "Итого",
    by_week: "Ожидаемая выручка по неделям",
    week_of: "неделя с",
    paid: "Оплачено",
    invoiced: "Выставлено, не оплачено",
    nothing_closing: "В этом окне ничего не закрывается.",
    all_under_control: "Всё под контролем.",
    overdue_task: "Задача просрочена",
    undelivered: "Сообщение не доставлено",
    reload_refused: "Новые правила не приняты",
    refused_lately: "Последние отказы",
    overdue_by: "просрочено на",
    attempts: "попыток",
    deal: "Сделка",
    what: "Что",
    since: "С",
    fields: "Поля",
    stages: "Этапы",
    history: "История",
    tasks: "Задачи",
    task: "Задача",
    assignee: "Исполнитель",
    due: "Срок",
    estimate: "Оценка, ч",
    spent: "Потрачено, ч",
    worked: "Кто работал, ч",
    done: "готово",
    cancelled: "отменена: сделка завершена",
    started: "в работе",
    open: "открыта",
    start: "Начать",
    finish: "Готово",
    log_time: "Записать время",
    hours: "часов",
    who: "кто",
    hours_sold: "Продано часов",
    hours_spent: "Потрачено часов",
    labour_cost: "Себестоимость работ",
    margin: "Маржа",
    events: "Что произошло",
    send: "Отправить",
    no_events: "Текущие этапы не ждут событий.",
    applied: "Готово: сделка обновлена.",
    refused: "Не принято",
    read_only: "У вашего токена доступ только на чтение.",
    personal_data: "Персональные данные",
    opted_out: "Клиент отказался от рассылки",
    opt_out: "Клиент отказался",
    opt_in: "Клиент снова согласен",
    erase: "Стереть персональные данные",
    erase_confirm: "Да, стереть безвозвратно: поля клиента, тексты сообщений и адреса",
    not_genuine: "Форма пришла не со страницы этого сайта или устарела. Откройте страницу заново и отправьте ещё раз.",
    too_many_logins: "Слишком много неверных попыток входа с этого адреса. Подождите и попробуйте снова.",
    parent: "Родительская сделка",
    rule: "Правило",
    version: "версия правил",
    person: "Сотрудник",
    roles: "Роли",
    open_tasks: "Открытые задачи",
    overdue_tasks: "Просроченные",
    hours_this_week: "Часов на этой неделе",
    not_found: "Не найдено",
    forbidden: "Нет доступа",
    no_value: "—",
    json_hint: "JSON-список записей",
    refreshed: "Обновляется сама каждые 30 секунд.",
    rules_version: "Правила, версия",
    finished: "завершена",
};

static EN: Words = Words {
    board: "Deals",
    money: "Money",
    attention: "Out of control",
    team: "Team",
    pipeline: "Pipeline",
    log_out: "Log out",
    log_in: "Log in",
    token: "Access token",
    token_hint: "A token from dealflow.toml (the [[tokens]] section).",
    wrong_token: "There is no such token.",
    days_in_stage: "days in stage",
    more: "more",
    also_at: "also",
    create: "Create",
    start_at: "Start at",
    id_hint: "empty: one is made up",
    id_word: "Id",
    title_word: "Title",
    new_deal: "New deal",
    save: "Save",
    edit: "Edit the deal",
    no_such_stage: "The pipeline has no such stage.",
    nothing_found: "Nothing found.",
    search_hint: "name, phone, email, id or title of a deal",
    search: "Search",
    page_word: "page",
    next_page: "next →",
    prev_page: "← previous",
    waits_at: "waiting at",
    other_stages: "Outside phases",
    closing_soon: "Closing soon",
    within_days: "within days",
    show: "Show",
    planned_end: "Planned end",
    amount: "Amount",
    total: "Total",
    by_week: "Expected revenue by week",
    week_of: "week of",
    paid: "Paid",
    invoiced: "Invoiced, not paid",
    nothing_closing: "Nothing closes in this window.",
    all_under_control: "Everything is under control.",
    overdue_task: "Task overdue",
    undelivered: "Message not delivered",
    reload_refused: "New rules refused",
    refused_lately: "Refused lately",
    overdue_by: "overdue by",
    attempts: "attempts",
    deal: "Deal",
    what: "What",
    since: "Since",
    fields: "Fields",
    stages: "Stages",
    history: "History",
    tasks: "Tasks",
    task: "Task",
    assignee: "Assignee",
    due: "Due",
    estimate: "Estimate, h",
    spent: "Spent, h",
    worked: "Who worked, h",
    done: "done",
    cancelled: "cancelled: the deal ended",
    started: "in progress",
    open: "open",
    start: "Start",
    finish: "Done",
    log_time: "Log time",
    hours: "hours",
    who: "who",
    hours_sold: "Hours sold",
    hours_spent: "Hours spent",
    labour_cost: "Labour cost",
    margin: "Margin",
    events: "What happened",
    send: "Send",
    no_events: "The current stages expect no events.",
    applied: "Done: the deal is updated.",
    refused: "Refused",
    read_only: "Your token may only read.",
    personal_data: "Personal data",
    opted_out: "The client opted out of",
    opt_out: "Client opted out",
    opt_in: "Client opted back in",
    erase: "Erase personal data",
    erase_confirm: "Yes, erase for good: the client's fields, message texts and addresses",
    not_genuine: "The form did not come from this site's own page, or it is out of date. Open the page again and send it once more.",
    too_many_logins: "Too many wrong logins from this address. Wait a little and try again.",
    parent: "Parent deal",
    rule: "Rule",
    version: "rules version",
    person: "Person",
    roles: "Roles",
    open_tasks: "Open tasks",
    overdue_tasks: "Overdue",
    hours_this_week: "Hours this week",
    not_found: "Not found",
    forbidden: "Forbidden",
    no_value: "—",
    json_hint: "a JSON list of records",
    refreshed: "Refreshes itself every 30 seconds.",
    rules_version: "Rules, version",
    finished: "finished",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_chooses_by_its_weights_and_russian_is_not_assumed_from_nothing() {
        assert_eq!(Lang::from_accept("en-GB,en;q=0.9,ru;q=0.8"), Some(Lang::En));
        assert_eq!(Lang::from_accept("de-DE,ru;q=0.5,en;q=0.7"), Some(Lang::En));
        assert_eq!(Lang::from_accept("ru-RU,ru;q=0.9"), Some(Lang::Ru));
        assert_eq!(Lang::from_accept("de-DE,fr;q=0.5"), None);
        assert_eq!(Lang::from_accept(""), None);
        assert_eq!(Lang::from_code("EN"), Some(Lang::En));
    }
}
