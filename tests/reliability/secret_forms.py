"""secret_forms.py - the credential forms real pastes show (issue 17, item 2), as data for
secrets.py: (name, paste, secret). Single-line forms carry their mail error on the same line,
so that the line is echoed as evidence and the mask is what keeps the secret out; the
transcripts are several lines, as clients print them. Values are made up in the shapes the
services issue (SendGrid "SG.<id>.<secret>", Mailgun "key-<32>", AWS "AKIA<16>" and a 44-
character SES SMTP password, Postmark UUID tokens, Google app passwords).

KEEP: ordinary text that must not be masked, (name, paste, text that must come out): a UUID
that is a message id in a bounce stays (only a UUID that a setting names as a token or a
user is Postmark's credential), as do the error's own words, a port or a protocol after "-p"
and a uid:gid after "-u".
"""
ERR = "535 5.7.8 Username and Password not accepted"
P = "Tr0ub4dor-x9"          # an ordinary password
SP = "correct horse battery"  # a password with spaces
APP = "abcd efgh ijkl mnop"   # a Google app password
SG = "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"
MG = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
AKIA = "AKIAIOSFODNN7EXAMPLE"
SES = "BM5m5a4hQTJnM7rzYEXAMPLEKEYxUt1Rp2Kz3Wq9Ab8c"  # 44 characters
PM = "1f7b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
FORMS = [
    # URLs
    ("URL, password", f"smtp://john:{P}@smtp.example.com:587  {ERR}", P),
    ("URL, unencoded @ in the user", f"smtps://shop@example.com:{P}@mail.example.com:465  {ERR}", P),
    ("URL, unencoded @, no port", f"MAILER_DSN=smtp://shop@example.com:{P}@mail.example.com  {ERR}", P),
    ("URL, encoded @", f"smtps://shop%40example.com:{P}@mail.example.com:465  {ERR}", P),
    ("URL, quoted", f'createTransport("smtps://me@gmail.com:{P}@smtp.gmail.com:465")\n{ERR}', P),
    ("URL, query after", f"smtp://u:{P}@smtp.example.com:587?encryption=tls  {ERR}", P),
    ("URL, ssl scheme", f"MAIL_URL=ssl://admin:{P}@smtp.example.com:465  {ERR}", P),
    ("URL, @ in password", f"smtp://john:{P}@x@smtp.example.com:587  {ERR}", P),
    # command lines
    ("swaks --auth-password", f"swaks --to a@b.c --server smtp.example.com --auth-user me --auth-password {P}  {ERR}", P),
    ("swaks --auth-password quoted", f"swaks --auth LOGIN --auth-password '{SP}' --server smtp.gmail.com  {ERR}", SP),
    ("swaks -ap", f"swaks -s smtp.example.com -au me -ap {P} -tls  {ERR}", P),
    ("--password", f"mailsend --password {P} --host smtp.example.com  {ERR}", P),
    ("--password=", f"sendmail-wrapper --password={P}  {ERR}", P),
    ("--pass", f"tool --user me --pass {P}  {ERR}", P),
    ("--smtp-password", f"app --smtp-password {P} --smtp-host smtp.example.com  {ERR}", P),
    ("sendEmail -xp", f"sendEmail -f a@b.c -t d@e.f -s smtp.gmail.com:587 -xu me@gmail.com -xp {P}  {ERR}", P),
    ("-p with a word", f"mailx -S smtp-auth-user=me -p {P}  {ERR}", P),
    ("mysql -p attached", f"mysql -u root -p{P} -h db.example.com  {ERR}", P),
    ("curl -u", f"curl --url smtps://smtp.gmail.com:465 -u me@gmail.com:{P} --mail-from me@gmail.com  {ERR}", P),
    ("curl --user", f"curl --ssl-reqd --url smtp://smtp.example.com:587 --user 'me:{P}'  {ERR}", P),
    ("curl --user=", f"curl --user=me:{P} smtp://smtp.example.com  {ERR}", P),
    # prose and messages
    ("with password", f"Authentication failed for user john@example.com with password {P}  {ERR}", P),
    ("with password quoted", f"Login failed for user 'john' with password '{SP}'  {ERR}", SP),
    ("using password", f"connecting as john using password {P}  {ERR}", P),
    # settings
    ("pass=", f"auth user=john pass={P}  {ERR}", P),
    ("password=", f"password={P}  {ERR}", P),
    ("password: (YAML)", f"  password: {P}  {ERR}", P),
    ("smtp_password quoted with spaces", f'smtp_password: "{SP}"\n{ERR}', SP),
    ("smtp_password single-quoted with spaces", f"smtp_password: '{SP}'  {ERR}", SP),
    ("PASSWORD unquoted with spaces (env)", f"SMTP_PASSWORD=\"{SP}\"  {ERR}", SP),
    ("JSON password with spaces", f'{{"password": "{SP}"}}\n{ERR}', SP),
    ("MAIL_PASSWORD", f"MAIL_PASSWORD={P}  {ERR}", P),
    ("EMAIL_HOST_PASSWORD", f"EMAIL_HOST_PASSWORD = '{P}'  {ERR}", P),
    ("SmtpPassword (camel)", f"SmtpPassword={P}  {ERR}", P),
    ("pwd=", f"user=john;pwd={P};server=smtp.example.com  {ERR}", P),
    ("passwd:", f"passwd: {P}  {ERR}", P),
    ("secret=", f"client_secret={P}  {ERR}", P),
    ("api_key=", f"api_key={P}  {ERR}", P),
    ("XML <password>", f"<password>{P}</password>  {ERR}", P),
    ("Java property", f"spring.mail.password={P}  {ERR}", P),
    (".NET connection string", f"Host=smtp.example.com;Password={P};Port=587  {ERR}", P),
    ("PHP array", f"'password' => '{P}',  {ERR}", P),
    ("Ruby hash", f":password => \"{P}\",  {ERR}", P),
    ("Python kwarg", f"server.login(user='me', password='{P}')  {ERR}", P),
    ("login() call", f"    server.login('me@gmail.com', '{P}')  {ERR}", P),
    # transcripts
    ("AUTH PLAIN inline", "C: AUTH PLAIN AGpvaG5AZXhhbXBsZS5jb20AVHIwdWI0ZG9yLXg5\n" + ERR, "AGpvaG5AZXhhbXBsZS5jb20AVHIwdWI0ZG9yLXg5"),
    ("AUTH LOGIN blobs", "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: am9obg==\nS: 334 UGFzc3dvcmQ6\nC: VHIwdWI0ZG9yLXg5\n" + ERR, "VHIwdWI0ZG9yLXg5"),
    ("swaks AUTH PLAIN", " -> AUTH PLAIN AGpvaG4AVHIwdWI0ZG9yLXg5\n<** " + ERR, "AGpvaG4AVHIwdWI0ZG9yLXg5"),
    ("PHPMailer CLIENT -> SERVER", "2024-05-14 09:31:07 CLIENT -> SERVER: VHIwdWI0ZG9yLXg5\n2024-05-14 09:31:07 SERVER -> CLIENT: " + ERR, "VHIwdWI0ZG9yLXg5"),
    ("smtplib send:", "send: 'AUTH PLAIN AGpvaG4AVHIwdWI0ZG9yLXg5\\r\\n'\nreply: b'" + ERR + "'", "AGpvaG4AVHIwdWI0ZG9yLXg5"),
    # HTTP headers
    ("Authorization: Basic", f"Authorization: Basic am9objpUcjB1YjRkb3IteDk=  {ERR}", "am9objpUcjB1YjRkb3IteDk"),
    ("Authorization: Bearer", f"Authorization: Bearer {SG}  {ERR}", SG),
    ("X-Postmark-Server-Token", f"X-Postmark-Server-Token: {PM}  {ERR}", PM),
    # app passwords
    ("app password quoted", f"EMAIL_PASS = \"{APP}\"  {ERR}", APP),
    ("app password after a key, unquoted", f"password: {APP}  {ERR}", APP),
    ("app password in login()", f"server.login('me@gmail.com', '{APP}')  {ERR}", APP),
    ("app password bare quoted", f"using app password '{APP}' for me@gmail.com  {ERR}", APP),
    # API keys and provider credentials
    ("SendGrid key bare", f"sendgrid client created with {SG}  {ERR}", SG),
    ("SendGrid key as SMTP password", f"SMTP user: apikey, password: {SG}  {ERR}", SG),
    ("SendGrid key in env", f"SENDGRID_API_KEY={SG}  {ERR}", SG),
    ("Mailgun key bare", f"mailgun: using {MG} for domain mg.example.com  {ERR}", MG),
    ("Mailgun key in JSON", f'{{"apiKey": "{MG}"}}\n{ERR}', MG),
    ("SES access key id", f"SES SMTP user {AKIA} failed  {ERR}", AKIA),
    ("SES secret bare", f"smtp credentials {AKIA} {SES}  {ERR}", SES),
    ("SES secret as password", f"aws_secret_access_key = {SES}  {ERR}", SES),
    ("Postmark token as SMTP user", f"MAIL_USERNAME={PM}  {ERR}", PM),
    ("Postmark token in env", f"POSTMARK_SERVER_TOKEN={PM}  {ERR}", PM),
    ("Postmark token in JSON", f'{{"ServerToken": "{PM}"}}\n{ERR}', PM),
]
# Ordinary text that must stay: (name, paste, text that must come out somewhere).
KEEP = [
    ("a message id that is a UUID", "Message-ID: <0a129aee-e1cd-480d-b08d-4f48e2b4d1b0@example.com> "
     "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
     "0a129aee-e1cd-480d-b08d-4f48e2b4d1b0"),
    ("the error's own words", ERR, "Username and Password not accepted"),
    ("a port after -p", "swaks --to a@b.c --server smtp.example.com -p 587 " + ERR, "-p 587"),
    ("a uid:gid after -u", "docker run -u 1000:1000 mailer " + ERR, "-u 1000:1000"),
    ("a protocol after -p", "iptables -w -I INPUT -p tcp -m multiport --dports smtp,465 " + ERR,
     "-p tcp"),
]
