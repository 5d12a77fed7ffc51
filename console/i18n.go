package console

import (
	"fmt"
	"strings"
	"time"
)

// Languages the console is written in; an operator whose language is
// another sees English.
var Languages = []string{"en", "zh-Hans"}

// uiLang maps an operator's language to one the console is written in.
func uiLang(tag string) string {
	if strings.HasPrefix(strings.ToLower(tag), "zh") {
		return "zh-Hans"
	}
	return "en"
}

// text holds every string of the console, by key, in each language.
// Placeholders are fmt verbs.
var text = map[string][2]string{ // en, zh-Hans
	"console":                  {"hotline console", "hotline 控制台"},
	"skip":                     {"Skip to content", "跳到正文"},
	"login.title":              {"Log in", "登录"},
	"login.operator":           {"Operator name", "操作员名称"},
	"login.password":           {"Password", "密码"},
	"login.code":               {"Authenticator code (if you have a second factor)", "验证器代码（如已设置第二因素）"},
	"login.submit":             {"Log in", "登录"},
	"login.bad":                {"Wrong operator name, password or code.", "操作员名称、密码或代码错误。"},
	"login.locked":             {"Too many failed attempts. Try again after %s.", "失败次数过多，请于%s之后重试。"},
	"login.expired":            {"This login link has been used or has expired. Ask for a new one.", "此登录链接已使用或已过期，请重新获取。"},
	"login.csrf":               {"The form expired. Please try again.", "表单已过期，请重试。"},
	"logout":                   {"Log out", "退出"},
	"signed.in":                {"%s at %s", "%s，%s"},
	"lang.switch":              {"Language", "语言"},
	"lang.apply":               {"Apply", "应用"},
	"home":                     {"Watch", "值班"},
	"home.unanswered":          {"Unanswered", "未答复"},
	"home.none":                {"Nothing is waiting for an answer.", "没有待答复的事项。"},
	"home.owe":                 {"We owe an answer (%d)", "待我方答复（%d）"},
	"home.wait":                {"We wait for an answer (%d)", "等待对方答复（%d）"},
	"home.shown":               {"%d to %d of %d", "第%d至%d项，共%d项"},
	"home.prev":                {"Earlier", "上一页"},
	"home.next":                {"More", "下一页"},
	"home.title.owed":          {"(%d owed, %d overdue)", "（待答复%d，逾期%d）"},
	"home.clock":               {"UTC", "协调世界时"},
	"home.alerts":              {"Sound and notify when something new needs our answer or goes overdue", "有新的待答复事项或逾期时发出声音并通知"},
	"home.alerts.new":          {"New: %s", "新事项：%s"},
	"home.alerts.overdue":      {"OVERDUE: %s", "已逾期：%s"},
	"banner.link":              {"The link to %s is down: nothing reaches it and nothing comes from it.", "与%s的链路中断：双方信息均无法送达。"},
	"banner.signer":            {"The party key's signer does not answer: nothing can be sent, acknowledged or receipted until it does (docs/KEYS.md).", "本方密钥签名器无响应：恢复前无法发送、确认或回执（见 docs/KEYS.md）。"},
	"banner.flash":             {"FLASH: %d messages await this party's answer.", "特急：%d条信息待本方答复。"},
	"prec.flash":               {"FLASH", "特急"},
	"prec.immediate":           {"IMMEDIATE", "加急"},
	"prec.priority":            {"PRIORITY", "优先"},
	"prec.routine":             {"ROUTINE", "常规"},
	"compose.precedence":       {"Precedence", "等级"},
	"banner.equivocation":      {"%d equivocation records: a party signed two versions of its history (hotline evidence).", "%d条双重签署证据：某方签署了两个不同版本的记录（见 hotline evidence）。"},
	"col.level":                {"Level", "级别"},
	"col.from":                 {"From", "发自"},
	"col.due":                  {"Due (UTC)", "期限（UTC）"},
	"col.left":                 {"Time left", "剩余时间"},
	"col.waitingon":            {"Waiting for", "等待"},
	"home.channels":            {"Channels", "频道"},
	"home.invitations":         {"%d invitations to new channels wait for an answer", "%d个新频道邀请待答复"},
	"inv.title":                {"Invitations", "频道邀请"},
	"inv.hint":                 {"Channels other parties proposed. Accept one to join it; decline it and it is no longer shown or synced. Unanswered invitations expire.", "其他方提议的频道。接受即加入；拒绝后不再显示或同步。未答复的邀请会过期。"},
	"inv.none":                 {"No invitation waits for an answer.", "没有待答复的邀请。"},
	"inv.from":                 {"Proposed by", "提议方"},
	"inv.level":                {"Level", "级别"},
	"inv.members":              {"Members", "成员"},
	"inv.received":             {"Received", "收到时间"},
	"inv.answer":               {"Answer", "答复"},
	"inv.accept":               {"Accept", "接受"},
	"inv.decline":              {"Decline", "拒绝"},
	"inv.renamed":              {"(proposed as %s, a name already used here)", "（提议名称为%s，本方已有同名频道）"},
	"state.declined":           {"declined", "已拒绝"},
	"state.expired":            {"expired unanswered", "未答复已过期"},
	"home.links":               {"Links to other parties", "与其他各方的链路"},
	"col.channel":              {"Channel", "频道"},
	"col.state":                {"State", "状态"},
	"col.unread":               {"Unread", "未读"},
	"col.deadline":             {"Soonest deadline", "最近期限"},
	"col.party":                {"Party", "一方"},
	"col.link":                 {"Link", "链路"},
	"col.contact":              {"Last contact", "最近联系"},
	"col.rtt":                  {"Round trip", "往返时间"},
	"col.backlog":              {"Not yet delivered", "尚未送达"},
	"col.message":              {"Message", "信息"},
	"col.what":                 {"What", "事项"},
	"link.up":                  {"up", "正常"},
	"link.down":                {"DOWN", "中断"},
	"link.silent":              {"SILENT", "无响应"},
	"never":                    {"never", "从未"},
	"state.active":             {"active", "已启用"},
	"state.invited":            {"invited: accept it", "受邀：待接受"},
	"state.proposed":           {"waiting for the others to accept", "等待其他方接受"},
	"due.in":                   {"ack due in %s", "须在%s内确认"},
	"due.overdue":              {"OVERDUE by %s", "已逾期%s"},
	"due.none":                 {"—", "—"},
	"due.undelivered":          {"not yet delivered", "尚未送达"},
	"channel.timeline":         {"Timeline", "时间线"},
	"channel.earlier":          {"Earlier entries", "更早的条目"},
	"channel.later":            {"Later entries", "更晚的条目"},
	"channel.newest":           {"Newest", "最新"},
	"channel.unread":           {"%d unread", "%d条未读"},
	"channel.firstunread":      {"Jump to the first unread", "跳至第一条未读"},
	"channel.empty":            {"No messages yet.", "尚无信息。"},
	"channel.members":          {"Members: %s. Level: %s.", "成员：%s。级别：%s。"},
	"msg.from":                 {"From %s", "发自%s"},
	"msg.sent":                 {"Sent %s", "发送于%s"},
	"msg.received":             {"received here %s", "本方收到于%s"},
	"msg.future":               {"dated ahead of its arrival here: its time is not trusted", "所署时间晚于本方收到时间：该时间不可信"},
	"msg.past":                 {"dated %s before it arrived here: its time is not trusted", "所署时间早于本方收到时间%s：该时间不可信"},
	"msg.shortnotice":          {"Short notice: %s is %s after this notice arrived here; the channel agreed %s", "通知过短：%s距本方收到此通知仅%s；本频道约定%s"},
	"msg.shortnotice.passed":   {"Short notice: %s had already passed when this notice arrived here; the channel agreed %s", "通知过短：本方收到此通知时%s已过；本频道约定%s"},
	"msg.delivered":            {"Delivered %s (signed receipt from %s)", "已送达 %s（%s的签名回执）"},
	"msg.notdelivered":         {"Not yet delivered to %s", "尚未送达%s"},
	"msg.read":                 {"Read by %s", "已读：%s"},
	"msg.acked":                {"Acknowledged by %s", "已确认：%s"},
	"msg.notacked":             {"Not yet acknowledged", "尚未确认"},
	"msg.noack":                {"No acknowledgement requested", "无需确认"},
	"msg.verified":             {"Verified: signature and delivery receipt check out", "已验证：签名与送达回执无误"},
	"msg.verified.sig":         {"Verified: signature checks out", "已验证：签名无误"},
	"msg.cosigned":             {"in a checkpoint cosigned by every member", "已纳入各方共同签署的检查点"},
	"msg.phrase":               {"Standard phrase %s: %s", "标准用语 %s：%s"},
	"msg.assent":               {"As sent (%s): %s", "原文（%s）：%s"},
	"msg.translation":          {"%s translation (%s) by %s of %s, %s: %s", "%[1]s译文（%[2]s，%[4]s的译者%[3]s，%[5]s）：%[6]s"},
	"msg.unofficial":           {"Author's unofficial translation (%s): %s", "作者的非正式译文（%s）：%s"},
	"stage.sight":              {"Sight", "视译"},
	"stage.rough":              {"Rough", "草译"},
	"stage.official":           {"Official", "正式"},
	"ack.reply":                {"Reply (optional)", "回复（可选）"},
	"ack.submit":               {"Acknowledge", "确认"},
	"compose":                  {"Compose", "撰写"},
	"compose.text":             {"Free text", "自由文本"},
	"compose.message":          {"Message", "信息"},
	"compose.lang":             {"Language of the text", "文本语言"},
	"compose.send":             {"Send", "发送"},
	"compose.phrases":          {"Standard phrases", "标准用语"},
	"compose.search":           {"Search phrases", "搜索标准用语"},
	"compose.choose":           {"Choose", "选择"},
	"compose.ackwithin":        {"Acknowledgement due within", "确认期限"},
	"compose.ackdefault":       {"the channel's agreed deadline", "频道约定的期限"},
	"compose.acknone":          {"no acknowledgement", "无需确认"},
	"compose.cancel":           {"Cancel", "取消"},
	"compose.required":         {"required", "必填"},
	"compose.optional":         {"optional", "可选"},
	"compose.none":             {"This channel has no agreed phrase catalog: free text only.", "本频道没有约定的标准用语目录，仅可发送自由文本。"},
	"compose.sent":             {"Sent. It is on this node's disk and on its way.", "已发送：已写入本节点磁盘，正在传送。"},
	"compose.error":            {"Not sent: %s", "未发送：%s"},
	"compose.reference":        {"The catalog's translations are reference translations, to be reviewed by qualified translators.", "目录译文为参考译文，须经合格译员审校。"},
	"confirm.title":            {"Confirm before sending", "发送前确认"},
	"confirm.phrase":           {"This standard phrase will be signed and sent as below; each party reads it in its own language. Check it once more.", "此标准用语将按下文签署并发送，各方以本方语言阅读。请再次核对。"},
	"errors.title":             {"There is a problem", "存在问题"},
	"compose.pick":             {"— choose —", "— 请选择 —"},
	"hint.choose":              {"Choose one from the list", "从列表中选择一项"},
	"syntax.number":            {"a decimal number, such as 12.5", "十进制数字，如 12.5"},
	"syntax.position":          {"latitude,longitude in decimal degrees, such as 18.25,112.5 or 18.25N,112.5E", "以十进制度表示的纬度,经度，如 18.25,112.5 或 18.25N,112.5E"},
	"syntax.time":              {"a time with its zone, such as 2026-12-01T06:00:00Z (UTC)", "带时区的时间，如 2026-12-01T06:00:00Z（协调世界时）"},
	"syntax.course-speed":      {"course/speed in degrees true and knots, such as 045/12", "航向/航速（真方位度数/节），如 045/12"},
	"syntax.party":             {"the name of a party in the channel", "频道中一方的名称"},
	"syntax.area":              {"circle:LAT,LON,RADIUS_NM or polygon:LAT,LON;LAT,LON;LAT,LON", "circle:纬度,经度,半径海里 或 polygon:纬度,经度;纬度,经度;纬度,经度"},
	"syntax.table":             {`rows separated by ";", cells by "|"`, "行之间用“;”分隔，单元格之间用“|”分隔"},
	"syntax.text":              {"text", "文本"},
	"confirm.text":             {"This message goes to the other party's ministers and chiefs of defence. Check it once more.", "此信息将送达对方部长和国防首长，请再次核对。"},
	"confirm.send":             {"Confirm and send", "确认并发送"},
	"confirm.cancel":           {"Back to editing", "返回修改"},
	"accept":                   {"Accept this channel", "接受此频道"},
	"events.offline":           {"Live updates lost; reconnecting…", "实时更新中断，正在重连……"},
	"level.strategic":          {"Strategic", "战略级"},
	"level.policy":             {"Policy", "政策级"},
	"level.theatre":            {"Theatre", "战区级"},
	"level.frontline":          {"Frontline", "一线"},
	"level.track2":             {"Track 2", "二轨"},
	"kind.config":              {"channel", "频道"},
	"kind.call":                {"call", "通话"},
	"kind.escalation":          {"escalation", "升级"},
	"kind.directory":           {"directory", "名录"},
	"kind.translation":         {"translation", "翻译"},
	"kind.key":                 {"key change", "密钥更换"},
	"kind.roster":              {"roster", "人员名册"},
	"home.drafts":              {"Drafts awaiting release (%d)", "待签发草稿（%d）"},
	"home.drafts.more":         {"More drafts wait than this page shows: hotline draft list lists them all.", "待签发草稿多于本页所示：hotline draft list 可列出全部。"},
	"draft.by":                 {"drafted by %s", "起草人 %s"},
	"draft.age":                {"waiting %s", "已等待 %s"},
	"draft.released":           {"released by %d of %d", "已签发 %d / %d"},
	"draft.withdraw":           {"Withdraw my draft", "撤回我的草稿"},
	"draft.youreleased":        {"You have released it; it goes out once the others have.", "您已签发；其余签发人签发后即发送。"},
	"draft.release":            {"Release with my passkey", "用我的通行密钥签发"},
	"draft.release.failed":     {"Not released: %s", "未签发：%s"},
	"draft.needpasskey":        {"To release it, register a passkey below.", "如需签发，请先在下方注册通行密钥。"},
	"draft.comment":            {"Why it goes back:", "退回理由："},
	"draft.return":             {"Return to the drafter", "退回起草人"},
	"passkeys":                 {"Your passkeys", "您的通行密钥"},
	"passkeys.count":           {"Passkeys registered: %d.", "已注册通行密钥：%d 个。"},
	"passkeys.register":        {"Register a passkey", "注册通行密钥"},
	"passkeys.done":            {"Passkey registered.", "通行密钥已注册。"},
	"passkeys.failed":          {"Not registered: %s", "未注册：%s"},
	"msg.released":             {"Released, with their personal signatures, by", "签发人（个人签名）："},
	"msg.disputed":             {"DISPUTED: signed with a key its party has revoked; not to be trusted", "有争议：由其一方已撤销的密钥签署，不可信"},
	"event.propose":            {"proposes the %s channel %s with %s", "提议建立%s频道 %s，成员：%s"},
	"event.accept":             {"accepts the channel proposed by %s", "接受%s提议的频道"},
	"event.escalation":         {"escalates: %s", "升级：%s"},
	"event.directory":          {"publishes its counterparts: %s", "发布其对口人员：%s"},
	"event.or":                 {" or ", "或"},
	"event.call.propose":       {"requests a %s call (%d min) at %s: %s", "请求%s通话（%d分钟），时间：%s；事由：%s"},
	"event.call.counter":       {"proposes other times for %s: ", "就%s提出其他时间："},
	"event.call.accept":        {"accepts the call %s at %s", "接受通话%s，时间：%s"},
	"event.call.decline":       {"declines the call %s: %s", "拒绝通话%s：%s"},
	"event.call.lapse":         {"records that the call request %s was not answered in time", "记录通话请求%s未在期限内获答复"},
	"event.call.readout":       {"readout of the call %s: %s", "通话%s的纪要：%s"},
	"event.call.draft":         {"proposes a joint readout of the call %s: %s", "提议通话%s的联合纪要：%s"},
	"event.call.cosign":        {"co-signs the joint readout of the call %s (signed by %s): %s", "联署通话%s的联合纪要（签署方：%s）：%s"},
	"tr.add":                   {"Add a translation", "添加译文"},
	"tr.open":                  {"Open the translation form", "打开译文表单"},
	"tr.lang":                  {"Into", "译入语言"},
	"tr.stage":                 {"Stage", "阶段"},
	"tr.translator":            {"Translator", "译者"},
	"tr.text":                  {"Translation", "译文"},
	"tr.submit":                {"Sign and add the translation", "签署并添加译文"},
	"tr.error":                 {"Not added: %s", "未添加：%s"},
	"error.notfound":           {"Not found.", "未找到。"},
	"due.answer":               {"answer due in %s", "须在%s内答复"},
	"calls":                    {"Call requests", "通话请求"},
	"call.from":                {"Requested by %s", "请求方：%s"},
	"call.minutes":             {"%d minutes", "%d分钟"},
	"call.counter":             {"other times for an earlier request", "对先前请求提出的其他时间"},
	"call.times":               {"Proposed times: ", "建议时间："},
	"call.with":                {"Participants: ", "参与者："},
	"call.at":                  {"Accepted for %s", "已商定：%s"},
	"call.state.requested":     {"Waiting for an answer", "等待答复"},
	"call.state.accepted":      {"Accepted", "已接受"},
	"call.state.declined":      {"Declined", "已拒绝"},
	"call.state.countered":     {"Other times proposed: see the counter-proposal", "对方提出了其他时间：见反提议"},
	"call.state.unanswered":    {"UNANSWERED: no answer came in time", "未获答复：未在期限内答复"},
	"call.answered.accept":     {"%s accepted %s", "%s接受：%s"},
	"call.answered.decline":    {"%s declined: %s", "%s拒绝：%s"},
	"call.answered.propose":    {"%s proposed other times", "%s提出了其他时间"},
	"call.answered.lapse":      {"%s recorded that no answer came in time", "%s记录为未在期限内答复"},
	"call.readout":             {"Readout by %s: %s", "%s的通话纪要：%s"},
	"call.joint":               {"Joint readout signed by %s: %s", "联合纪要（签署方：%s）：%s"},
	"call.held":                {"Held from %s to %s; the record is signed by %s.", "通话于%s至%s举行；记录由%s签署。"},
	"call.join":                {"Join the call", "加入通话"},
	"call.join.as":             {"Join as", "身份"},
	"call.join.self":           {"Yourself (your role in the roster)", "本人（名册中的职务）"},
	"call.join.interpreter":    {"interpreter", "口译"},
	"call.join.interpretation": {"Hear our interpreter", "收听我方口译"},
	"call.join.early":          {"The call can be joined from %s.", "通话可于%s起加入。"},
	"call.join.failed":         {"Could not join: %s", "未能加入：%s"},
	"call.on":                  {"On the call", "通话中"},
	"call.mute":                {"Mute", "静音"},
	"call.unmute":              {"Unmute", "取消静音"},
	"call.muted":               {"Your microphone is muted.", "您的麦克风已静音。"},
	"call.speaking":            {"speaking", "正在发言"},
	"call.leave":               {"Leave the call", "退出通话"},
	"call.members":             {"Who is on the call", "与会者"},
	"call.quality":             {"From %s: round trip %s ms, %s%% lost, jitter %s ms, about %s ms mouth to ear", "来自%s：往返%s毫秒，丢包%s%%，抖动%s毫秒，口到耳约%s毫秒"},
	"call.recorded":            {"This call is recorded on each side.", "本通话由各方各自录音。"},
	"call.answer.accept":       {"Accept for %s", "接受：%s"},
	"call.answer.reason":       {"Reason for declining", "拒绝理由"},
	"call.answer.decline":      {"Decline", "拒绝"},
	"home.call":                {"Call request: %s", "通话请求：%s"},
	"call.request":             {"Request a call", "请求通话"},
	"call.purpose":             {"Purpose", "事由"},
	"list.sep":                 {"; ", "；"},
	"label.sep":                {": ", "："},
	"aside.open":               {" (", "（"},
	"aside.close":              {")", "）"},
	"role.minister":            {"Minister", "部长"},
	"role.chief-of-defence":    {"Chief of Defence", "国防首长"},
	"role.director-policy":     {"Director-General for Policy", "政策司司长"},
	"role.theatre-commander":   {"Theatre commander", "战区司令员"},
	"role.duty-ship":           {"Duty ship", "值班舰艇"},
	"role.programme-lead":      {"Programme lead", "项目负责人"},
	"call.at.n":                {"Proposed time %d (UTC)", "建议时间%d（UTC）"},
	"call.at.hint":             {"In UTC, 24-hour clock: YYYY-MM-DD HH:MM, such as 2026-12-02 09:00.", "使用协调世界时、24小时制：YYYY-MM-DD HH:MM，如 2026-12-02 09:00。"},
	"call.starts":              {"starts in %s", "%s后开始"},
	"call.started":             {"started %s ago", "已开始%s"},
	"call.length":              {"Length", "时长"},
	"call.who":                 {"Participants, as each party publishes them", "参与者（按各方公布的对口人员）"},
	"call.submit":              {"Sign and send the request", "签署并发送请求"},
	"call.error":               {"Not answered: %s", "未答复：%s"},
}

// langNames are the languages' names in themselves, as a reader looks
// for their own.
var langNames = map[string]string{"en": "English", "zh-Hans": "简体中文"}

// T returns the text of key in lang, formatted with args.
func T(lang, key string, args ...any) string {
	pair, ok := text[key]
	if !ok {
		return key
	}
	s := pair[0]
	if uiLang(lang) == "zh-Hans" {
		s = pair[1]
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// roleName names a directory role in lang: the roles hotline knows are
// translated; any other is shown as its party published it.
func roleName(lang, role string) string {
	if key := "role." + role; T(lang, key) != key {
		return T(lang, key)
	}
	return role
}

// listOf joins items as lang writes a list ("; " or "；"), and aside puts
// a remark in brackets (" (…)" or "（…）"): Chinese text takes Chinese
// punctuation.
func listOf(lang string, items []string) string {
	if uiLang(lang) == "zh-Hans" {
		return strings.Join(items, "；")
	}
	return strings.Join(items, "; ")
}

func aside(lang, s string, parts ...string) string {
	if uiLang(lang) == "zh-Hans" {
		return s + "（" + strings.Join(parts, "，") + "）"
	}
	return s + " (" + strings.Join(parts, ", ") + ")"
}

// formatTime writes t in UTC, in the language's way.
func formatTime(lang string, t time.Time) string {
	t = t.UTC()
	if uiLang(lang) == "zh-Hans" {
		return t.Format("2006年1月2日 15:04:05 UTC")
	}
	return t.Format("2 Jan 2006 15:04:05 UTC")
}

// formatDuration writes d to the second, largest units first.
func formatDuration(lang string, d time.Duration) string {
	if d < 0 {
		d = -d
	}
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	units := [3]string{"h", "m", "s"}
	if uiLang(lang) == "zh-Hans" {
		units = [3]string{"小时", "分", "秒"}
	}
	switch {
	case h > 0:
		return fmt.Sprintf("%d%s %d%s", h, units[0], m, units[1])
	case m > 0:
		return fmt.Sprintf("%d%s %d%s", m, units[1], s, units[2])
	}
	return fmt.Sprintf("%d%s", s, units[2])
}
