"""Remove identifying data from Dutch and English advice-desk text before it is stored."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import re
import sys
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = ["PLACEHOLDERS", "Anonymiser", "anonymise_lines"]

NAAM = "[NAAM]"
TELEFOON = "[TELEFOON]"
EMAIL = "[EMAIL]"
BSN = "[BSN]"
IBAN = "[IBAN]"
POSTCODE = "[POSTCODE]"
ADRES = "[ADRES]"
DATUM = "[DATUM]"
KENTEKEN = "[KENTEKEN]"
DOCUMENTNUMMER = "[DOCUMENTNUMMER]"
DOSSIERNUMMER = "[DOSSIERNUMMER]"
IP = "[IP]"
URL = "[URL]"
HANDLE = "[HANDLE]"
INSTELLING = "[INSTELLING]"

PLACEHOLDERS: tuple[str, ...] = (
    NAAM,
    TELEFOON,
    EMAIL,
    BSN,
    IBAN,
    POSTCODE,
    ADRES,
    DATUM,
    KENTEKEN,
    DOCUMENTNUMMER,
    DOSSIERNUMMER,
    IP,
    URL,
    HANDLE,
    INSTELLING,
)

# When two detections overlap they are merged; the label of the most specific one wins.
_PRIORITY: dict[str, int] = {
    URL: 100,
    EMAIL: 100,
    IBAN: 95,
    IP: 95,
    HANDLE: 90,
    DOSSIERNUMMER: 88,
    DOCUMENTNUMMER: 86,
    TELEFOON: 85,
    KENTEKEN: 80,
    DATUM: 78,
    BSN: 75,
    POSTCODE: 72,
    ADRES: 70,
    INSTELLING: 60,
    NAAM: 50,
}


def _words(blob: str) -> frozenset[str]:
    """Split a whitespace-separated word blob into a set."""
    return frozenset(blob.split())


def _fold(word: str) -> str:
    """Lowercase and strip accents so 'Özlem' and 'ozlem' look up the same."""
    # The Turkish dotless i does not decompose, so map it by hand ('Çınar' -> 'cinar').
    decomposed = unicodedata.normalize("NFKD", word.replace("’", "'").lower().replace("ı", "i"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# ---------------------------------------------------------------------------------------------
# Word lists. Tokens are compared after _fold().
# ---------------------------------------------------------------------------------------------

# Terms a summary needs: roles, support organisations, topics, platforms, regions, calendar.
# They are never treated as names, whatever the name lists say.
_KEEP = _words("""
    docent docente docenten leraar lerares leerkracht mentor mentoren wijkagent wijkagenten
    jongerenwerker jongerenwerkers teacher teachers youth worker workers mentor coach counsellor
    counselor schoolmaatschappelijk maatschappelijk werker zorgcoordinator vertrouwenspersoon
    leerplichtambtenaar leerplicht ambtenaar casusregisseur regisseur huisarts psycholoog
    begeleider hulpverlener agent politie police gemeente municipality council wijkteam
    buurtteam jeugdzorg jeugdbescherming kinderbescherming raad veilig thuis veiligheidshuis
    platform jep ggz familiesteunpunt nctv aivd mivd reclassering halt exit om openbaar
    ministerie rvdk safety house child protection board youth protection service
    social worker imam rector directeur director principal
    jihadisme jihadism jihadist jihadisten jihadistisch jihadistische jihad salafisme salafism
    salafist salafisten salafistisch islam islamitisch islamitische moslim moslims muslim
    muslims islamist islamisme islamism kalifaat caliphate sharia koran quran allah god
    christen christian christenen jood joods jews jewish jew antisemitisme antisemitism
    omvolking remigratie rechtsextremisme rechtsextremist rechtsextremistisch
    rechtsextremistische extreemrechts linksextremisme far right alt-right
    accelerationisme accelerationist accelerationisten nazi nazis neonazi neonazi's
    fascisme fascism holocaust incel incels manosphere redpill complotdenken complot
    qanon soevereinen wappies sonnenrad alpha sigma chad chads stacy stacys pepe thor odin
    is isis daesh al-qaida al-qaeda hamas hezbollah hizbollah taliban pkk
    discord tiktok telegram instagram insta snapchat snap whatsapp youtube facebook twitter
    x reddit 4chan 8kun gab rumble bitchute twitch roblox minecraft fortnite steam signal
    kick google netflix spotify
    syrie syria irak iraq turkije turkey marokko morocco afghanistan somalie somalia
    israel palestina palestine gaza oekraine ukraine rusland russia iran jemen yemen libie
    nederland netherlands holland europa europe belgie belgium duitsland germany
    nederlands dutch engels english arabisch arabic turks turkish marokkaans moroccan
    koerdisch kurdish somalisch somali syrisch syrian afghaans afghan
    groningen friesland fryslan drenthe overijssel flevoland gelderland utrecht
    noord-holland zuid-holland zeeland noord-brabant brabant limburg randstad twente
    achterhoek veluwe north south holland west oost west-nederland christchurch
    januari februari maart april mei juni juli augustus september oktober november
    december january february march may june july august october
    maandag dinsdag woensdag donderdag vrijdag zaterdag zondag monday tuesday wednesday
    thursday friday saturday sunday kerst christmas pasen easter ramadan suikerfeest
    offerfeest eid
    frans duits spaans grieks latijn wiskunde geschiedenis aardrijkskunde biologie
    maatschappijleer levensbeschouwing burgerschap french german spanish history maths
    parijs londen london brussel brussels antwerpen antwerp berlijn berlin istanbul ankara
    rabat casablanca tanger nador damascus raqqa mosul aleppo idlib kabul mogadishu
    amerika america afrika africa azie kosovo bosnie tsjetsjenie chechnya jordanie jordan
    egypte egypt algerije algeria tunesie tunisia libanon lebanon pakistan eritrea ethiopie
    ethiopia soedan sudan jemen suriname curacao aruba antillen schiphol
""")

# Multi-word terms that must survive even though their words look like names or institutions.
_KEEP_PHRASES: tuple[str, ...] = (
    "Veilig Thuis",
    "Raad voor de Kinderbescherming",
    "Platform JEP",
    "Openbaar Ministerie",
    "Child Protection Board",
    "Safety House",
    "Youth Protection",
    "Den Haag",
    "The Hague",
    "College van B&W",
    "College van Burgemeester en Wethouders",
    "Andrew Tate",
    "Anders Breivik",
    "Brenton Tarrant",
    "Osama bin Laden",
    "Geert Wilders",
    "Thierry Baudet",
    "Donald Trump",
    "Adolf Hitler",
    "profeet Mohammed",
    "Prophet Muhammad",
    "Prophet Mohammed",
    "Islamitische Staat",
    "Islamic State",
    "Albert Heijn",
    "Sieg Heil",
    "Heil Hitler",
    "White Power",
    "Blood & Honour",
    "Combat 18",
    "Abu Bakr al-Baghdadi",
)

# Function words of both languages: never a name on their own.
_STOP = _words("""
    aan al alle alles als altijd andere ben bij daar dan dat de der deze die dit doch doen door
    dus een eens en er ge geen geweest haar had heb hebben heeft hem het hier hij hoe hun iemand
    iets ik in is ja je jij jou jouw jullie kan kon kunnen maar me meer men met mij mijn moet
    na naar niet niets nog nu of om omdat onder ons onze ook op over reeds te tegen toch toen tot
    u uit uw van veel voor want waren was wat we werd wezen wie wil willen worden wordt zal ze
    zelf zich zij zijn zo zonder zou zei zegt mag mogen moeten gaat ging gaan komt kwam hoi hey
    hallo oke ok goed dank bedankt graag via sinds vanaf per tussen na zodat wel geen nee
    a an the and or but if of at by for with about against between into through during before
    after above below to from up down in out on off over under again further then once here
    there when where why how all any both each few more most other some such no nor not only
    own same so than too very can will just don should now i me my myself we our ours you your
    yours he him his himself she her hers herself it its they them their theirs what which who
    whom this that these those am is are was were be been being have has had having do does
    did doing would could might must may shall also yes hi hello thanks please said says told
    dear mr mrs ms miss sir
""")

# Dutch and English words that are also first names in deduce's list; lowercase they are read as
# words, and only count as a name when a context cue says so ('mijn leerling mark', 'max zei').
_AMBIGUOUS = _words("""
    aan aat abbey adel adem adonis age ai akin ale alia alien alike alp alpha amor an angel ani
    anno ara arden aren arend ares aria aster ate attila august augustus aura aurora ava ay baan
    bader bao baptist baptiste bars basil bate beau beer belle ben bene berber beren berk berry
    beryl bill bin bink blaas blanche blessing bliss bloem boas boet bonne bonny bono bora botje
    botte bouwen boy brain bran brand brandt brandy bruin brunette buck buddy burger caesar cai
    can candy caprice carmine carry cars ceder charisma charity chase cherish cherry chi chin
    chinook cinderella cis clementine constant crystal curt daily dale day de deacon deejay deen
    deli deny desire destiny dia dies diesel dim dimmen din dine dino divine dixie domina domino
    don donate done dong dot duke dusty ebony eerde elan else emo engel engeltje enne erin eros
    faith fake fan fang fee feite felicity feline fem fen feng fer fester fey fin fine flint flip
    flo floor flor flora fox franc franco frank frat genesis ger germ gill given gosling grace
    greet griffin gul gunter guy hai hale hang har haring harm hart has hay heaven heavenly hee
    hei helle hellen henna hens herald hero hilly him hind hoi hok hope horst hui hyacinth ids
    indigo islam jazz jazzy jeep jersey jet jewel jihad job joke jouw joy junior just justice
    kader kam kar kas kain kee keet ken kent khan kick kiem kier kik kin king kit klaar kok
    kommer koop kor lam lance lard laurel lava lean leen lei lelie lente liberty lie lies lieve
    lijntje lila line lion loan lode lok lolita lone lore lot lotus love lovely luck lucky luit
    lute lux maan maas maatje mace madelief madonna mana manna mans mare maren margarita marina
    marine marines mark marlin marry mart mas max maxima may meadow medina meg meis melodie
    melody men ment mercy merit meta mie mik miles mille miller mimi mine mink minne mint
    miracle misty moon mus my nada nader nadir nail nanny nas nero nies nine ninja nirvana
    ocean octave ouwe parel pari pax pearl pebbles peer peet pel pep pepper phoenix pie piety
    ping pip pita pixie pluk pol pom poppy precious prince princess prosper prudence prudent
    pui puk raaf rainier raja ram ran raven rea reef rein reine reiner rem rhea richel ridge
    riff rijk rim rink rinse rio riven river robijn roman romein ronin roos rose rosette rosy
    rose rover rowdy rozemarijn rui rune rut sage said sake sang sari sas savanna savanne
    scarlet sen sera serenity serve servet seven shade shady shah shanty shun si siena sierra
    siert sill silver sim sin sing sissy skip sky sol soleil spike splinter star stein stern
    stoffel storm sui sultan summer sunny sylvan taco tak take tam tamer tamme tan tao taro tea
    terra thyme tiara tien ties tiger tijm timber tin ting tiny toke ton tore tos trees trinity
    tromp tuba tuna valentine valiant vanity veer vesper vin vita vital volken vos vrouwtje vu
    wail wan wander wang ward wart wei wen wester wick wiel wik wil wille willow win wing winter
    wisse wolf xi yang yaw ye yen yin yip yuan yuk zen zier zilver zoetje zomer zus zwaan zweer
    ya math danish thai india france asia christ jesus paris kong hong ive ot lima nike indie
    geo che wah ame gre ise ite ami mex obe ima ely bien ange hin sion asse seine rhode doha
    lisse egmond jordaan veere odessa richmond memphis venice vienna geneva dakota montana
    nevada indiana virginia georgia carolina jamaica valencia lyon milano mauritius
    martinique philippine navajo bing chevy diablo nox zonne ingen kors su yu yi ji qi lan lin
    ion mac ty nan oda ole hon
""")

# Words that are names, not ordinary words, in text of the other language ('floor' in Dutch).
_NAMES_IN_DUTCH_TEXT = _words("""
    floor ties ward sky joy grace faith bill guy rowdy jet rose dale max mark frank hope
""")
_NAMES_IN_ENGLISH_TEXT = _words(
    "roos lieve ben erin ava aurora dino flo franco maren mimi siena wil max"
)

# Function words that tell the language of a text apart.
_NL_MARKERS = _words("""
    de het een en ik je hij zij ze niet dat die wat op met voor naar maar heeft zijn er ook bij
    om als dan nog wel geen kan moet wil hem haar mijn deze omdat want heb hebben wordt werd
""")
_EN_MARKERS = _words("""
    the a an and of to he she it they we i you not that this what with for but has have his her
    my be are at from or if so will would can about who when been their there which
""")

# First names missing from deduce's Dutch list but common among the young people discussed.
_EXTRA_FIRST = _words("""
    alfie archie ayoob aicha busra dawit filsan hagos hulya ion ionut kacper kasia kidane mihai
    mussie noorullah rohullah sajjad selam semhar senait szymon tamim tesfay vlad wiktoria
    yohannes yonas younis youssouf omer ozlem mo moh mohand soufian soufyan zakariya zakaria
    yassir yasser yassine ilyas ilias anass anas ayman aymane badr brahim driss hicham houssam
    jaouad marouane mouad nassim othman oussama rayan redouan saad sofiane taha wassim younes
    zakaria zouhair amal asmae chaima dounia fatiha ghizlane hafsa hanane ikram kaoutar kawtar
    khadija loubna meryem nadia naima oumaima rim salma sanaa siham soukaina wiam yousra zineb
    paisley grayson oisin saoirse tadhg mirac cinar oliwia wiktor radu dimitar georgi abdiqani
    tesfaye selamawit feven filmon habtom kibrom yazan rahaf eylul ecrin hossain othmane wiame
    fawad jawid fereshta mursal parwana shirwan rezan hozan sherzad hiroshi ananya rigillio
    shurandy sheraldo sergino tygo jurre noud siem boaz teun mees lieke fenna maud evi
""")

# Names deduce drops as too ambiguous, but which are names when capitalised mid-sentence.
_CAP_ONLY_FIRST = _words("will dan allen hunter avery emery ernst rey hank murphy")

# Capitalised words in the name lists that are not names mid-sentence either.
_CAP_NOT_NAME = _words("""
    god allah jezus jesus christus mohammed muhammad profeet prophet
    van de der den ter ten te het 't la le el al ben bin ibn abu
""")

_INTERFIX = _words(
    "van de der den ter ten te het 't t el al ben bin ibn abu da di du la le von vd"
)

# Words after which a token is read as a person name ('mijn leerling sem').
_ROLE_CUES = _words("""
    leerling leerlinge leerlingen scholier student studente pupil cliënt client jongere jongen
    meisje knul zoon dochter broer broertje zus zusje neef neefje nicht nichtje vriend vriendin
    vriendje vriendinnetje klasgenoot klasgenote buurjongen buurmeisje moeder vader ouder oom
    tante opa oma stiefvader stiefmoeder mentor docent leraar lerares collega jongerenwerker
    wijkagent begeleider coach boy girl kid son daughter brother sister cousin nephew niece
    friend classmate mother father mom mum dad uncle aunt grandma grandpa colleague teacher
    counsellor counselor officer worker stepfather stepmother boyfriend girlfriend
""")

# Everyday nouns that follow 'van' in Dutch and also occur as surnames.
_COMMON_NOUNS = _words("""
    groep klas school stad dorp huis thuis werk wijk buurt jaar week dag maand kerk moskee
    vereniging club team afdeling gemeente politie familie vader moeder broer zus zoon dochter
    vriend vriendin leerling leerlingen jongen jongens meisje meisjes kind kinderen ouders oom
    tante opa oma neef nicht buren buurman buurvrouw mentor docent juf meester rector
    directeur klasgenoot vrienden
""")

_TITLES = _words("""
    meneer mevrouw mevr mw dhr heer juf juffrouw meester mijnheer mr mrs ms miss dr drs ir
    prof sheikh sjeik imam ustad mister madam
""")

_NAMING_CUES = _words("heet heette genaamd named called noemt noemde alias bijnaam nickname")

_SPEECH_VERBS = _words("""
    zei zegt zeggen vertelde vertelt vroeg vraagt appte appt belde belt schreef schrijft stuurde
    stuurt riep dreigde dreigt beweert beweerde deelt deelde postte post gaf geeft liet laat
    heeft had is was wil wilde kwam komt ging gaat zit zat woont
    said says told tells asked asks texted wrote writes posted posts shared shares claimed
    claims threatened has had is was wants wanted came went lives
""")

# Verbs after which a capitalised sentence opener is a person ('Peterson said').
_REPORTING_VERBS = _words("zei zegt vertelde vertelt vroeg said says told tells asked")

# Sentence openers that can stand before such a verb without being a name.
_SENTENCE_OPENERS = _words("""
    gisteren toen daarna later vervolgens ook eerst vandaag vanochtend vanmiddag vanavond hier
    daar dat dit wat nu verder tevens bovendien ineens opeens plotseling laatst onlangs soms
    vaak altijd nooit iemand niemand iedereen moeder vader mama papa oma opa juf meester mentor
    docent politie school men zij hij ze
    yesterday today then later also someone nobody everyone everybody somebody mum mom dad
    mother father police staff school teacher mentor he she they it who one
""")

# Words that show a following capitalised name is a group, game or channel, not a person.
_NON_PERSON_NOUNS = _words("""
    groep group groepsapp server kanaal channel account game spel film video boek book
    beweging movement organisatie organisation organization app podcast forum site website
    pagina page chat netwerk network band song nummer lied
""")

_DETERMINERS = _words("""
    de het een the a an zijn haar mijn my his her hun their onze our jouw your dit deze die dat
    this that these those elke ieder every geen no
""")

# Generic school words that are not a school's name by themselves.
_GENERIC_SCHOOL = _words("""
    school basisschool hogeschool middelbare praktijkschool vakschool zomerschool lyceum college
    gymnasium academie atheneum universiteit scholengemeenschap politieacademie brugklas
    schoolcollege highschool
""")

# Institution words that are often followed by a weekday, place or topic rather than a name.
_GENERIC_BEFORE_NAME = _words("school college church kerk moskee mosque vereniging stichting")

# Tokens that may not start a named institution ('Op Calvijn College' starts at 'Calvijn').
_INST_LEAD_STOP = _STOP | _words("""
    op bij naar via vanaf uit over langs nabij mijn zijn haar onze hun een de het the a an his
    her my our their at on to from near in of leerling leerlingen student students docent
    teacher pupils mentor school vorige vorig volgende nieuwe oude andere
""")

_ADDRESS_LEAD_STOP = _words("""
    op in aan naar bij via vanaf uit over langs nabij woont woonde adres address at on to from
    near lives lived het the zijn haar de
""")

# Domains whose links point at public information, not at a person.
_SAFE_DOMAINS = _words("""
    platformjep.nl nctv.nl rijksoverheid.nl government.nl overheid.nl veiligthuis.nl politie.nl
    113.nl kindertelefoon.nl nji.nl movisie.nl ggz.nl wikipedia.org radicalisering.nl
    familiesteunpunt.nl aivd.nl om.nl jeugdbescherming.nl kinderbescherming.nl
""")

_SOCIAL_HOSTS = _words("""
    instagram.com facebook.com fb.com tiktok.com x.com twitter.com youtube.com youtu.be t.me
    telegram.me snapchat.com linkedin.com reddit.com twitch.tv discord.gg discord.com
    threads.net vk.com ok.ru rumble.com bitchute.com gab.com
""")

_MONTHS = (
    "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december|"
    "january|february|march|may|june|july|august|october|"
    "jan|feb|mrt|mar|apr|jun|jul|aug|sept|sep|okt|oct|nov|dec"
)
_EN_MONTHS_CAP = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec|january|february|april|june|july|"
    "august|september|october|november|december"
)
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH_NUM = r"(?:0?[1-9]|1[0-2])"

# Words after a number that show it is a count or a time span, not a house number.
_NOT_HOUSE_NUMBER = (
    r"(?!\s*(?:%|uur|keer|x\b|km|kilometer|meter|minuten|min\b|jaar|jarige|jr\b|weken|dagen|"
    r"maanden|jongeren|leerlingen|kinderen|mensen|euro|€|procent|years?\b|days?\b|weeks?\b|"
    r"months?\b|hours?\b|times\b|students\b|kids\b|people\b|minutes\b|" + _MONTHS + r")\b)"
)


# ---------------------------------------------------------------------------------------------
# Regular expressions for the pattern layers.
# ---------------------------------------------------------------------------------------------

_URL_RE = re.compile(
    r"(?i)\b(?:https?://|www\.)[^\s<>\"'\[\]{}]+"
    r"|\b(?:[a-z0-9-]{1,63}\.){1,6}"
    r"(?:com|nl|be|org|net|me|gg|tv|io|co|uk|de|eu|info|app|ly|link|ru)/[^\s<>\"'\[\]{}]*"
)
_EMAIL_RE = re.compile(
    r"(?i)(?<![\w.+-])[a-z0-9][a-z0-9._%+-]{0,63}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){0,5}"
    r"\.[a-z]{2,}"
)
_EMAIL_OBFUSCATED_RE = re.compile(
    r"(?i)\b[a-z0-9._%+-]{1,64}+\s?(?:(?:\[at\]|\(at\)|\{at\}|\[@\])\s?[a-z0-9-]+|"
    r"\s(?:at|apenstaartje)\s(?:gmail|hotmail|outlook|live|yahoo|icloud|ziggo|kpnmail|"
    r"planet|home|xs4all|proton|protonmail|msn|telfort|casema|quicknet))"
    r"\s?(?:\[dot\]|\(dot\)|\{dot\}|\[punt\]|\.|\sdot\s|\spunt\s)\s?"
    r"(?:com|nl|net|org|be|eu|de|info|uk|me)\b"
)
_IBAN_NL_RE = re.compile(r"(?i)\bNL\s?\d{2}\s?[A-Z]{4}\s?(?:\d\s?){9}\d\b")
_IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,3})?\b")
_IPV4_RE = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?:/\d{1,2})?(?::\d{1,5})?(?!\.?\d)"
)
_IPV6_RE = re.compile(
    r"(?i)(?<![\w:])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:%\w+)?(?:/\d{1,3})?(?![\w:])"
)
_HANDLE_RE = re.compile(r"(?<![\w@./:])@[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?")
_REDDIT_USER_RE = re.compile(r"(?<![\w/])u/[A-Za-z0-9_-]{3,}")
_HANDLE_CONTEXT_RE = re.compile(
    r"(?i)\b(?P<kw>insta(?:gram)?|snap(?:chat)?|tiktok|telegram|discord|twitter|twitch|reddit|"
    r"roblox|steam|psn|xbox|signal|kik|gamertag|gebruikersnaam|username|user\s?name|"
    r"accountnaam|account|handle|nickname|bijnaam|profielnaam|schuilnaam|alias)"
    r"(?:[-\s]?(?:naam|name|account|handle|id|tag|profiel|profile))?\s*"
    r"(?::|=|\bis\b|\bheet\b|\bals\b|\bas\b|\bcalled\b|\bgenaamd\b|\bnamed\b)?\s*[\"'“‘]?"
    r"(?P<v>[A-Za-z0-9_][A-Za-z0-9_.#-]{2,})"
)
# A word with an underscore is a user name in ordinary prose ('Aryan_Warrior_88').
_UNDERSCORE_NAME_RE = re.compile(r"(?<![\w@/.#])[A-Za-z0-9]+(?:_+[A-Za-z0-9]+)+_*(?![\w])")
_HANDLE_KEYWORDS = _words("""
    username gebruikersnaam account accountnaam handle nickname bijnaam profielnaam alias
    gamertag naam name profiel profile
""")
_EXPLICIT_HANDLE_KW = _words("""
    gamertag gebruikersnaam username user accountnaam handle nickname bijnaam profielnaam
    schuilnaam alias
""")

# Separators between digits; '(0)' is the trunk prefix in '+31 (0)6' and '0031-(0)6'.
_PHONE_SEP = r"(?:\s?[-.]?\s?\(0\)\s?[-.]?\s?|\s?[-./–]\s?|\s|\)\s?|\s?\(|)"
_PHONE_NL_RE = re.compile(rf"(?<![\w+/.])\(?0(?:{_PHONE_SEP}\d){{9,10}}(?![\w/]|[.,]\d)")
_PHONE_INTL_RE = re.compile(
    rf"(?<![\w+])(?:\+|\b00)\s?\d{{1,3}}(?:\s?\(0\))?(?:{_PHONE_SEP}\d){{6,13}}(?![\w/]|[.,]\d)"
)
_PHONE_US_RE = re.compile(r"(?<![\w+])\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?![\w/]|[.,]\d)")
_PHONE_CONTEXT_RE = re.compile(
    r"(?i)\b(?:tel(?:efoon)?(?:nummer|nr)?|telnr|mobiel(?:e nummer)?|gsm|nummer|phone(?: number)?|"
    r"mobile|cell|whatsapp|bel(?:len)?|call|sms|app)\.?\s*:?\s*(?:is\s+|op\s+|on\s+)?"
    r"(?P<n>\+?[\d(][\d\s().\-/]{6,}\d)"
)
# A date followed by another number ('01-03-2008 12'), not a phone number written with dots.
_DATE_PREFIX_RE = re.compile(r"\(?\d{1,2}([-/.])\d{1,2}\1(?:19|20)?\d{2}(?![-/.]\d)")

_BSN_RE = re.compile(
    r"(?<![\w.,/-])(?:\d{9}|\d{3}[. ]\d{3}[. ]\d{3}|\d{4}[. ]\d{2}[. ]\d{3})(?![\w/-]|[.,]\d)"
)
_BSN_CONTEXT_RE = re.compile(
    r"(?i)\b(?:bsn|burgerservicenummer|sofinummer|sofi-nummer|bsn-nummer)\s*(?:nummer|nr\.?)?"
    r"\s*[:=]?\s*(?:is\s+|van\s+\w+\s+is\s+)?(?P<v>\d[\d .]{7,11}\d)"
)

_DATE_NUM_RE = re.compile(
    rf"(?<![\w./-]){_DAY}(?P<s>[-/.]){_DAY}(?P=s)(?:(?:19|20)\d{{2}}|\d{{2}})(?![\w-]|[./]\d)"
)
_DATE_ISO_RE = re.compile(
    rf"(?<![\w./-])(?:19|20)\d{{2}}(?P<s>[-/.]){_MONTH_NUM}(?P=s){_DAY}(?![\w-]|[./]\d)"
)
_DATE_DAY_MONTH_RE = re.compile(
    rf"(?i)(?<![\w.,-])(?:the\s+)?{_DAY}(?:st|nd|rd|th|ste|de|e)?\.?(?:\s+of)?[\s-]+"
    rf"(?:{_MONTHS})\b\.?(?:,?[\s-]+(?:(?:19|20)\d{{2}}|'\d{{2}})(?!\d))?"
)
_DATE_MONTH_DAY_RE = re.compile(
    rf"\b(?:{_EN_MONTHS_CAP})\.?\s+(?:the\s+)?{_DAY}(?:st|nd|rd|th)?(?:,?\s+(?:19|20)\d{{2}})?"
    r"(?![\w:]|[.,]\d)"
)
_DATE_CONTEXT_RE = re.compile(
    rf"(?i)\b(?:op|on|sinds|since|vanaf|per|d\.d\.|dd|geboren|born|datum|date|dob)\s*:?\s+"
    rf"(?P<v>{_DAY}[-/.]{_MONTH_NUM})(?![-/.]?\d)"
)

_POSTCODE_RE = re.compile(r"(?<![\w-])(?P<d>[1-9]\d{3})(?P<sp>\s?)(?P<l>[A-Za-z]{2})(?![\w-])")
_UK_POSTCODE_RE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}\b")
_POSTCODE_NOT_LETTERS = _words("""
    en in op of is om de te al na nu zo ze we je me at on to an as by he if it my no or so up us
    do go am be km mg ml cm mm kg gb mb kb ms px cc hz kw pk th nd rd st uu pm ad bc ca jr
""")
_UNIT_LETTERS = _words("km mg ml cm mm kg gb mb kb ms px cc hz kw pk th nd rd st jr am pm uu")

_PLATE_SHAPES = (
    "LL-DD-DD",
    "DD-DD-LL",
    "DD-LL-DD",
    "LL-DD-LL",
    "LL-LL-DD",
    "DD-LL-LL",
    "DD-LLL-D",
    "D-LLL-DD",
    "LL-DDD-L",
    "L-DDD-LL",
    "LLL-DD-L",
    "L-DD-LLL",
    "D-LL-DDD",
    "DDD-LL-D",
)


def _plate_regex(separator: str) -> str:
    """Build one alternation of all Dutch licence-plate side codes."""
    shapes = []
    for shape in _PLATE_SHAPES:
        if not separator and shape == "DD-DD-LL":
            continue  # written without dashes this is a postcode ('1234AB')
        parts = [
            f"[A-Z]{{{len(g)}}}" if g[0] == "L" else rf"\d{{{len(g)}}}" for g in shape.split("-")
        ]
        shapes.append(separator.join(parts))
    return "(?:" + "|".join(shapes) + ")"


_PLATE_RE = re.compile(r"(?i)(?<![\w-])" + _plate_regex("-") + r"(?![\w-])")
_PLATE_COMPACT_RE = re.compile(r"(?<![\w-])" + _plate_regex("") + r"(?![\w-])")
_PLATE_CONTEXT_RE = re.compile(
    r"(?i)\b(?:kenteken(?:plaat)?|nummerplaat|licen[cs]e\s?plate|number\s?plate|"
    r"registration(?:\s?number)?|plate)\s*(?:nummer|number|no\.?|nr\.?)?\s*[:=]?\s*(?:is\s+)?"
    r"(?P<v>[A-Za-z0-9]{1,4}(?:-?[A-Za-z0-9]{1,4}){1,3}(?-i:\s[A-Z0-9]{2,4})?)(?![\w-])"
)

_PASSPORT_RE = re.compile(r"(?<![\w-])[A-NP-Z]{2}[A-NP-Z0-9]{6}\d(?![\w-])")
_DOCUMENT_CONTEXT_RE = re.compile(
    r"(?i)\b(?:paspoort|passport|id-kaart|id\s?kaart|identiteitskaart|identity\s?card|id\s?card|"
    r"rijbewijs|driving\s?licen[cs]e|driver'?s\s?licen[cs]e|verblijfs(?:vergunning|document|pas)|"
    r"residence\s?permit|document|v-nummer|vreemdelingennummer|student|leerling|personeels|"
    r"employee|pas|kaart|id)(?:[-\s]?(?:nummer|number|nr\.?|no\.?|#|id))?\s*[:=#]?\s*"
    r"(?:is\s+|was\s+|met\s+nummer\s+|with\s+number\s+|\(number\s+|\(nummer\s+)?"
    r"(?P<v>(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]{3,}[A-Za-z0-9])"
)
_DOSSIER_CONTEXT_RE = re.compile(
    r"(?i)\b(?:dossier|zaak|case|file|kenmerk|referentie|reference|ref|registratie|melding|"
    r"meldings|incident|ticket|bvh|pv|proces-verbaal|aangifte|cli[eë]nt|klant|casus|"
    r"vt|registration)(?:[-\s]?(?:nummer|nr|number|no|id|code))?\.?\s*[:=#]?\s*"
    r"(?:is\s+|was\s+|under\s+|onder\s+)?"
    r"(?P<v>#?(?=[A-Za-z0-9/._-]*\d)[A-Za-z0-9#][A-Za-z0-9/._-]*[A-Za-z0-9])"
)
_DOSSIER_CODE_RE = re.compile(
    r"(?<![\w/-])(?:[A-Z]{1,4}[-/]\d{2,4}[-/]\d{3,}|(?:19|20)\d{2}[-/]\d{4,8}|#\d{4,}|"
    r"[A-Z]{1,4}\d{0,4}-\d{4,}(?:-\d+)?)(?![\w/-])"
)
_LONG_NUMBER_RE = re.compile(r"(?<![\w.,])[A-Za-z]{0,4}\d{6,}[A-Za-z]{0,4}(?![\w]|[.,]\d)")

_STREET_STRICT = (
    "straat|laan|weg|plein|gracht|kade|singel|dijk|dreef|steeg|plantsoen|boulevard|allee|"
    "straatweg|dwarsstraat|laantje|straatje|pad"
)
_STREET_BROAD = (
    _STREET_STRICT + "|hof|markt|park|baan|wal|haven|veld|erf|poort|vaart|burgwal|dam|ring|"
    "werf|zijde|oord|hout|berg|akker|hoek|weide|kamp|donk|dries|stede|brink|horst|rade|straat"
)
_HOUSE_NUMBER = (
    r"\d{1,4}(?:[-/]?(?:[IVX]{1,3}|hs|bis|bg|huis|boven)(?![\w'])|\s?[-/]?\s?[a-zA-Z](?![\w'])|"
    r"[-/]\d{1,4}|\s(?:bis|hs|huis|bg|boven|rood|zwart|[IVX]{1,3})\b)?"
)
_STREET_RE = re.compile(
    rf"(?P<street>\b(?:[A-Z][\w'’-]{{0,40}}(?:{_STREET_BROAD})|"
    rf"(?i:[\w'’-]{{0,40}}[a-zà-ÿ](?:{_STREET_STRICT}))))"
    rf"\s+(?P<num>{_HOUSE_NUMBER}){_NOT_HOUSE_NUMBER}(?![.,:]\d)"
)
_STREET_WORD_RE = re.compile(
    r"\b(?P<street>(?:[A-Z][\w'’-]{1,40}\s+){1,3}(?:Gracht|Kade|Laan|Weg|Plein|Straat|Singel|Dijk|"
    r"Markt|Haven|Wal|Voorhout|Hof|Park|Dreef|Steeg)|(?:Laan|Plein|Kade|Weg|Straat|Singel)"
    r"(?:\s+(?:van|der|de|den|het|ter|ten|'t|op|voor|naar|in|aan)){1,2}\s+[A-Z][\w'’-]{1,40})"
    rf"\s+(?P<num>{_HOUSE_NUMBER}){_NOT_HOUSE_NUMBER}(?![.,:]\d)"
)
_EN_STREET_TYPES = (
    r"Street|St\.?|Road|Rd\.?|Avenue|Ave\.?|Lane|Ln\.?|Drive|Dr\.?|Way|Court|Ct\.?|Place|"
    r"Square|Sq\.?|Boulevard|Blvd\.?|Close|Crescent|Terrace|Gardens|Grove|Row|Mews|Parade|Walk|"
    r"Hill|Park"
)
_EN_STREET_RE = re.compile(
    rf"(?<![\w.,-])\d{{1,5}}[A-Za-z]?,?\s+(?:[A-Z][\w'’-]{{0,40}}\s+){{1,3}}"
    rf"(?:{_EN_STREET_TYPES})(?!\w)"
)
_EN_STREET_LOWER_RE = re.compile(
    r"(?i)(?<![\w.,-])\d{1,5}[a-z]?\s+(?:(?!(?:the|a|an|on|in|of|at|to|and|or|for|with|from|by|"
    r"his|her|their|my|our|your|its|this|that|some|many|more|few|new|old|young|year|years|days|"
    r"hours|minutes|weeks|months|times|jaar|dagen|uur)\b)[a-z][\w'’-]{0,40}\s+){1,2}"
    r"(?:street|road|avenue|lane|boulevard|crescent|terrace)\b"
)
_POSTBUS_RE = re.compile(r"(?i)\b(?:postbus|p\.?o\.?\s?box)\s+\d{1,6}\b")

_INST_TYPES_AFTER = (
    r"Lyceum|College|Gymnasium|Atheneum|Scholengemeenschap|School|Academie|Academy|"
    r"Universiteit|University|Hogeschool|Instituut|Institute|Campus|Mavo|Havo|Vmbo|Vwo|"
    r"Basisschool|High School|Primary School|Secondary School|Middle School|Grammar School|"
    r"Moskee|Mosque|Kerk|Church|Jongerencentrum|Buurthuis|Wijkcentrum|Kindcentrum|"
    r"Montessorischool|Daltonschool|Vrije School|Praktijkschool|moskee|mosque"
)
_INST_AFTER_RE = re.compile(rf"\b(?:{_INST_TYPES_AFTER})\b")
# Dutch secondary-school abbreviations before a name ('OSG Hengelo', 'SG Spieringshoek').
_INST_ABBREV_RE = re.compile(
    r"\b(?:OSG|SG|CSG|RSG|PCC|KSG|ISG|CLZ|OBS|CBS|IKC)\s+(?:[A-Z][\w'’-]{1,40})"
    r"(?:\s+[A-Z][\w'’-]{1,40})?"
)
_INST_BEFORE_RE = re.compile(
    r"\b(?P<kw>(?i:(?:openbare\s+|christelijke\s+|katholieke\s+|islamitische\s+|"
    r"protestants-christelijke\s+|montessori\s+|dalton\s+|vrije\s+)?basisschool|obs|cbs|rkbs|"
    r"pcbs|ibs|ikc|kindcentrum|sbo|vso|praktijkschool|middelbare\s+school|school|"
    r"scholengemeenschap|lyceum|college|gymnasium|roc|mbo|hogeschool|universiteit|"
    r"university|academy|moskee|mosque|stichting|jongerencentrum|buurthuis|wijkcentrum|"
    r"voetbalclub|voetbalvereniging|sportclub|sportschool|vereniging|kerk|church|"
    r"youth\s+club|youth\s+centre|youth\s+center|community\s+centre))"
    r"(?:\s+(?:of|van|voor))?\s+[\"'“‘]?(?P<name>(?:(?:De|Het|'t|The|de|het)\s+)?"
    r"[A-Z0-9][\w'’&.-]{0,40}(?:\s+(?:(?:van|voor|de|der|den|het|aan|op|te|of|the)\s+)?"
    r"[A-Z][\w'’&.-]{0,40}){0,3})[\"'”’]?"
)
_INST_BEFORE_LOWER_RE = re.compile(
    r"(?i)\b(?:basisschool|obs|cbs|rkbs|pcbs|ikc|roc)\s+(?P<name>(?:(?:de|het|'t)\s+)?"
    r"[a-zà-ÿ][\w'’-]{1,40})"
)
# Well-known school brands that name an institution without a type word ('expelled from Zadkine').
_INST_BRANDS_RE = re.compile(
    r"\b(?:Zadkine|Albeda|Deltion|Aventus|Curio|Summa|Scalda|Firda|Noorderpoort|Landstede|"
    r"Inholland|Fontys|Avans|Saxion|Windesheim|Hanzehogeschool|Novacollege|Nova College|"
    r"Graafschap College|Alfa-college|ROC Mondriaan|Mondriaan|Gilde Opleidingen|Vista College|"
    r"Horizon College|Rijn IJssel|Koning Willem I College|Da Vinci College|Friesland College|"
    r"HvA|HAN|HU|TU Delft|TU/e|VU|UvA|Erasmus Universiteit|Radboud Universiteit)\b"
)
_INST_COMPOUND_RE = re.compile(
    r"\b[A-Z][\w'’-]{0,40}(?:school|lyceum|college|gymnasium|academie|atheneum|hogeschool|"
    r"universiteit|moskee)\b"
)
_INST_LOWER_AFTER_RE = re.compile(
    r"\b(?P<name>[a-zà-ÿ][\w'’-]{2,40})\s+(?P<type>lyceum|college|gymnasium|atheneum)\b"
)

# Arabic kunya and patronymic names ('Abu Hafs', 'Umm Sumayyah', 'Abu Bakr al-Iraqi').
_KUNYA_RE = re.compile(
    r"\b(?:Abu|Abou|Abū|Umm|Oum|Ibn|Bint)[\s-][A-Z][\w'’-]{1,40}"
    r"(?:\s(?:al-|el-|Al-|El-)?[A-Z][\w'’-]{1,40})?"
)
# A first name glued to two or more digits is a user name ('Ruben88', 'sanne.2009').
_NAME_NUMBER_RE = re.compile(r"(?<![\w@/.#-])(?P<name>[A-Za-z]{2,})[._-]?\d{2,4}(?![\w])")
# Words glued to digits or underscores ('4chan', 'jamal_x') are not tokens: they are no names.
_TOKEN_RE = re.compile(r"(?<![\w])[^\W\d_]+(?:['’\-][^\W\d_]+)*(?![\w])")
_AGE_AFTER_RE = re.compile(
    r"\s*(?:\(\s*\d{1,2}\s*(?:jaar|jr\.?|j|yo|y/o|years?(?: old)?)?\s*\)|,\s*\d{1,2}\s*(?:jaar|jr|"
    r"years? old)?\s*,)"
)


# ---------------------------------------------------------------------------------------------
# Small data types.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Span:
    """A stretch of text to replace by a placeholder."""

    start: int
    end: int
    label: str
    weak: bool = False  # a catch-all finding that yields its label to any specific one

    @property
    def priority(self) -> int:
        """Priority of this span's label when overlapping spans merge."""
        return _PRIORITY[self.label] - (100 if self.weak else 0)


@dataclass(frozen=True, slots=True)
class _Token:
    """A word of the text with the facts the name heuristics need."""

    start: int
    end: int
    text: str
    low: str
    is_cap: bool
    sent_start: bool
    ambiguous: bool  # also an ordinary word in the language of this text
    stop: bool  # a function word in the language of this text


def _guess_language(words: list[str]) -> str:
    """Guess 'nl', 'en' or 'mixed' from function words; names are judged per language."""
    nl = sum(w in _NL_MARKERS for w in words)
    en = sum(w in _EN_MARKERS for w in words)
    if nl > 1.5 * en:
        return "nl"
    if en > 1.5 * nl:
        return "en"
    return "mixed"


def _tokenise(text: str) -> list[_Token]:
    """Split text into word tokens, marking capitals, sentence starts and ambiguous words."""
    matches = list(_TOKEN_RE.finditer(text))
    lows = [re.sub(r"'s$", "", _fold(m.group())) for m in matches]  # 'noah's' -> 'noah'
    language = _guess_language(lows)
    ambiguous, stop = _AMBIGUOUS, _STOP
    if language == "nl":
        ambiguous = _AMBIGUOUS - _NAMES_IN_DUTCH_TEXT
    elif language == "en":
        ambiguous = _AMBIGUOUS - _NAMES_IN_ENGLISH_TEXT
        stop = _STOP - _NAMES_IN_ENGLISH_TEXT
    tokens: list[_Token] = []
    for match, low in zip(matches, lows, strict=True):
        word = match.group()
        window = text[max(0, match.start() - 40) : match.start()]
        before = window.rstrip(" \t\"'“”‘’(*•[")
        sent_start = not before or before[-1] in ".!?:;\n-–—" or window.endswith("\n")
        tokens.append(
            _Token(
                match.start(),
                match.end(),
                word,
                low,
                word[0].isupper(),
                sent_start,
                low in ambiguous,
                low in stop,
            )
        )
    return tokens


def _load_list(path: Path) -> set[str]:
    """Read one of deduce's lookup lists, folded to lowercase."""
    if not path.exists():
        return set()
    with path.open(encoding="utf-8") as handle:
        return {_fold(line.strip()) for line in handle if line.strip()}


def _deduce_cache_path(lookup_path: Path) -> Path:
    """Pick where deduce keeps its 80 MB lookup cache: its own folder, or a user cache."""
    if (lookup_path / "cache" / "lookup_structs.pickle").exists() or os.access(
        lookup_path / "cache", os.W_OK
    ):
        return lookup_path
    # A read-only install would make deduce crash while saving its first-run cache.
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    alternative = base / "vraagbaak" / "deduce"
    alternative.mkdir(parents=True, exist_ok=True)
    return alternative


@contextlib.contextmanager
def _quiet_deduce() -> Iterator[None]:
    """Keep deduce's import from reconfiguring logging or raising warnings into the caller."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            # deduce calls logging.basicConfig(DEBUG, stdout) on import, which would silence
            # the application's own basicConfig and flood stdout.
            for handler in list(root.handlers):
                if handler not in handlers:
                    root.removeHandler(handler)
            root.setLevel(level)


# ---------------------------------------------------------------------------------------------
# The anonymiser.
# ---------------------------------------------------------------------------------------------


class Anonymiser:
    """Replace personal data in Dutch or English text with typed placeholders."""

    def __init__(self) -> None:
        """Load deduce and its name lists once; this takes seconds and about 1 GB."""
        with _quiet_deduce():
            # Imported here so that importing this module stays cheap for code that never
            # anonymises (tests, CLI help); deduce itself pulls in numpy and friends.
            import deduce
        lookup = Path(deduce.__file__).parent / "data" / "lookup"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._deduce: Any = deduce.Deduce(cache_path=_deduce_cache_path(lookup))
        names = lookup / "src" / "names"
        first = _load_list(names / "lst_first_name" / "items.txt")
        first -= _load_list(names / "lst_first_name" / "exceptions.txt")
        self._first = frozenset(first | _EXTRA_FIRST)
        surnames = _load_list(names / "lst_surname" / "items.txt")
        surnames |= _load_list(names / "lst_interfix_surname" / "items.txt")
        surnames -= _load_list(names / "lst_surname" / "exceptions.txt")
        # Surnames that are everyday words ('Groep', 'Klas') would eat 'de juf van groep 7'.
        common = _load_list(lookup / "src" / "whitelist" / "lst_common_word" / "items.txt")
        self._surnames = frozenset(surnames - _STOP - common - _COMMON_NOUNS)
        places = lookup / "src" / "locations" / "lst_placename"
        self._places = frozenset(
            _load_list(places / "lst_residence" / "items.txt")
            | _load_list(places / "lst_municipality" / "items.txt")
        )
        self._keep_phrase_re = re.compile(
            r"(?i)\b(?:" + "|".join(re.escape(p) for p in _KEEP_PHRASES) + r")\b"
        )

    # -- public API ----------------------------------------------------------------------------

    def anonymise(self, text: str) -> str:
        """Return text with every detected piece of personal data replaced by a placeholder."""
        if not text or text.isspace():
            return text
        tokens = _tokenise(text)
        spans = list(self._pattern_spans(text))
        spans += self._institution_spans(text, tokens)
        spans += self._deduce_spans(text, tokens)
        spans += self._name_spans(text, tokens)
        spans += [_Span(m.start(), m.end(), NAAM) for m in _KUNYA_RE.finditer(text)]
        spans += self._name_number_spans(text)
        spans = [_trim_punctuation(text, span) for span in self._protect(text, spans)]
        return _render(text, _merge(spans))

    # -- pattern layers ------------------------------------------------------------------------

    def _pattern_spans(self, text: str) -> Iterator[_Span]:
        """Find identifiers that have a recognisable shape."""
        yield from self._url_spans(text)
        for regex in (_EMAIL_RE, _EMAIL_OBFUSCATED_RE):
            yield from (_Span(m.start(), m.end(), EMAIL) for m in regex.finditer(text))
        yield from (_Span(m.start(), m.end(), IBAN) for m in _IBAN_NL_RE.finditer(text))
        for m in _IBAN_RE.finditer(text):
            compact = m.group().replace(" ", "")
            if 15 <= len(compact) <= 34 and sum(c.isdigit() for c in compact) >= 8:
                yield _Span(m.start(), m.end(), IBAN)
        yield from self._ip_spans(text)
        yield from self._handle_spans(text)
        yield from self._phone_spans(text)
        yield from self._number_spans(text)
        yield from self._date_spans(text)
        yield from self._postcode_spans(text)
        yield from self._plate_spans(text)
        yield from self._address_spans(text)

    @staticmethod
    def _url_spans(text: str) -> Iterator[_Span]:
        """Links, except links to public information sites."""
        for m in _URL_RE.finditer(text):
            url = m.group().rstrip(".,;:!?)'\"”’")
            host_path = re.sub(r"(?i)^(?:https?://)?(?:www\.|m\.)?", "", url)
            host, _, path = host_path.partition("/")
            host = host.lower()
            if host in _SAFE_DOMAINS or (host.split(".", 1)[-1] in _SAFE_DOMAINS):
                continue
            if host in _SOCIAL_HOSTS and not path.strip("/"):
                continue  # a bare platform name is a topic word, not a profile
            yield _Span(m.start(), m.start() + len(url), URL)

    @staticmethod
    def _ip_spans(text: str) -> Iterator[_Span]:
        """IPv4 and IPv6 addresses, validated so times like 12:30:45 stay."""
        yield from (_Span(m.start(), m.end(), IP) for m in _IPV4_RE.finditer(text))
        for m in _IPV6_RE.finditer(text):
            candidate = m.group()
            address = candidate.split("/")[0].split("%")[0]
            if "::" not in address and address.count(":") < 7:
                continue
            try:
                ipaddress.IPv6Address(address)
            except ValueError:
                continue
            yield _Span(m.start(), m.end(), IP)

    @staticmethod
    def _handle_spans(text: str) -> Iterator[_Span]:
        """@handles, u/names and user names introduced by a platform word."""
        for regex in (_HANDLE_RE, _REDDIT_USER_RE):
            for m in regex.finditer(text):
                if len(m.group()) >= 3:
                    yield _Span(m.start(), m.end(), HANDLE)
        for m in _UNDERSCORE_NAME_RE.finditer(text):
            yield _Span(m.start(), m.end(), HANDLE)
        pos = 0
        while m := _HANDLE_CONTEXT_RE.search(text, pos):
            # Resume inside the match: in 'Discord username x_y' the value follows 'username'.
            pos = m.start("v")
            value = m.group("v").rstrip(".-")
            folded = _fold(value)
            if folded in _STOP or folded in _KEEP or folded in _HANDLE_KEYWORDS:
                continue
            keyword = _fold(m.group("kw")).split()[0]
            looks_like_handle = re.search(r"[_\d#]|\w\.\w|[a-z][A-Z]", value) is not None
            # 'snap: sannevdb': after a platform and a colon any single word is the account.
            after_colon = text[m.end("kw") : m.start("v")].strip(" \"'“‘").endswith(":")
            if looks_like_handle or keyword in _EXPLICIT_HANDLE_KW or after_colon:
                yield _Span(m.start("v"), m.start("v") + len(value), HANDLE)
                pos = m.end("v")

    @staticmethod
    def _phone_spans(text: str) -> Iterator[_Span]:
        """Dutch, international and US phone numbers in their common notations."""
        for m in _PHONE_NL_RE.finditer(text):
            if _DATE_PREFIX_RE.match(m.group()):
                continue  # a date followed by a number, not a phone number
            yield _Span(m.start(), m.end(), TELEFOON)
        for m in _PHONE_INTL_RE.finditer(text):
            digits = re.sub(r"\(0\)", "", m.group())
            if 9 <= sum(c.isdigit() for c in digits) <= 15:
                yield _Span(m.start(), m.end(), TELEFOON)
        yield from (_Span(m.start(), m.end(), TELEFOON) for m in _PHONE_US_RE.finditer(text))
        for m in _PHONE_CONTEXT_RE.finditer(text):
            value = m.group("n")
            if 8 <= sum(c.isdigit() for c in value) <= 15 and not _DATE_PREFIX_RE.match(value):
                yield _Span(m.start("n"), m.end("n"), TELEFOON)

    @staticmethod
    def _number_spans(text: str) -> Iterator[_Span]:
        """BSN, passport, dossier and other reference numbers."""
        for m in _BSN_CONTEXT_RE.finditer(text):
            yield _Span(m.start("v"), m.end("v"), BSN)
        yield from (_Span(m.start(), m.end(), BSN) for m in _BSN_RE.finditer(text))
        for m in _PASSPORT_RE.finditer(text):
            if any(c.isdigit() for c in m.group()[2:8]) or m.group().startswith("SPECI"):
                yield _Span(m.start(), m.end(), DOCUMENTNUMMER)
        for m in _DOCUMENT_CONTEXT_RE.finditer(text):
            value = m.group("v")
            if sum(c.isdigit() for c in value) >= 3 and not _is_year_or_age(value):
                yield _Span(m.start("v"), m.end("v"), DOCUMENTNUMMER)
        for m in _DOSSIER_CONTEXT_RE.finditer(text):
            value = m.group("v")
            if sum(c.isdigit() for c in value) >= 4 and not _is_year_or_age(value):
                yield _Span(m.start("v"), m.end("v"), DOSSIERNUMMER)
        for m in _DOSSIER_CODE_RE.finditer(text):
            if not re.fullmatch(r"(?:19|20)\d{2}[-/](?:19|20)\d{2}", m.group()):
                yield _Span(m.start(), m.end(), DOSSIERNUMMER)
        for m in _LONG_NUMBER_RE.finditer(text):
            yield _Span(m.start(), m.end(), DOCUMENTNUMMER, weak=True)

    @staticmethod
    def _date_spans(text: str) -> Iterator[_Span]:
        """Exact dates: numeric, with a Dutch or English month name, or after a date cue."""
        for regex in (_DATE_NUM_RE, _DATE_ISO_RE, _DATE_DAY_MONTH_RE, _DATE_MONTH_DAY_RE):
            for m in regex.finditer(text):
                yield _Span(m.start(), m.end(), DATUM)
        for m in _DATE_CONTEXT_RE.finditer(text):
            yield _Span(m.start("v"), m.end("v"), DATUM)

    @staticmethod
    def _postcode_spans(text: str) -> Iterator[_Span]:
        """Dutch postcodes in any case and UK postcodes."""
        for m in _POSTCODE_RE.finditer(text):
            letters = m.group("l")
            low = letters.lower()
            if low in {"sa", "sd", "ss"}:
                continue  # letter pairs that Dutch postcodes never use
            if not m.group("sp"):
                if low in _UNIT_LETTERS:
                    continue  # '1500km', '2000mg'
            elif not letters.isupper() and low in _POSTCODE_NOT_LETTERS:
                continue  # '2023 en', '1500 in'
            elif letters.isupper() and low in {"ad", "bc", "am", "pm", "km", "kg", "mb", "gb"}:
                continue
            yield _Span(m.start(), m.end(), POSTCODE)
        yield from (_Span(m.start(), m.end(), POSTCODE) for m in _UK_POSTCODE_RE.finditer(text))

    @staticmethod
    def _plate_spans(text: str) -> Iterator[_Span]:
        """Dutch licence plates by side code, and any plate after a plate cue."""
        for m in _PLATE_RE.finditer(text):
            groups = m.group().lower().split("-")
            if any(g.isalpha() and re.fullmatch(_MONTHS, g) for g in groups):
                continue  # '1-mei-20' is a date
            yield _Span(m.start(), m.end(), KENTEKEN)
        yield from (_Span(m.start(), m.end(), KENTEKEN) for m in _PLATE_COMPACT_RE.finditer(text))
        for m in _PLATE_CONTEXT_RE.finditer(text):
            value = m.group("v").strip(" -")
            if any(c.isdigit() for c in value) and len(value.replace(" ", "")) >= 4:
                yield _Span(m.start("v"), m.start("v") + len(value), KENTEKEN)

    def _address_spans(self, text: str) -> Iterator[_Span]:
        """Street plus house number, Dutch and English style, and PO boxes."""
        for m in _STREET_RE.finditer(text):
            street = _fold(m.group("street"))
            if street in self._places or street in _KEEP or _is_year(m.group("num")):
                continue
            yield _Span(self._address_start(text, m.start()), m.end(), ADRES)
        for m in _STREET_WORD_RE.finditer(text):
            if not _is_year(m.group("num")):
                yield _Span(self._address_start(text, m.start()), m.end(), ADRES)
        for regex in (_EN_STREET_RE, _EN_STREET_LOWER_RE, _POSTBUS_RE):
            yield from (_Span(m.start(), m.end(), ADRES) for m in regex.finditer(text))

    @staticmethod
    def _address_start(text: str, start: int) -> int:
        """Extend a street name leftwards over words like 'Burgemeester' or 'Van'."""
        for _ in range(3):
            window_start = max(0, start - 60)
            m = re.search(
                r"(?:^|(?<=\s))([A-Z][\w'’.-]{0,40}|van|de|der|den|ter|ten|'t)\s+$",
                text[window_start:start],
            )
            if not m or _fold(m.group(1)) in _ADDRESS_LEAD_STOP:
                break
            word_start = window_start + m.start(1)
            if word_start == window_start and window_start > 0:
                break  # the word runs past the window: no street prefix is that long
            before = text[max(0, word_start - 10) : word_start].rstrip()
            if m.group(1)[0].isupper() and (not before or before[-1] in ".!?:;\n"):
                break  # a capitalised word at sentence start is more likely 'Op' or 'Gisteren'
            start = word_start
        return start

    # -- institutions --------------------------------------------------------------------------

    def _institution_spans(self, text: str, tokens: list[_Token]) -> list[_Span]:
        """Named schools, colleges, universities, mosques and youth centres."""
        spans: list[_Span] = []
        for m in _INST_AFTER_RE.finditer(text):
            start = self._institution_lead(text, tokens, m.start())
            if start is None:
                continue
            end = m.end()
            tail = re.match(r"(?:\s+(?:[A-Z][\w'’-]+|van\s+[A-Z][\w'’-]+)){1,2}", text[end:])
            if tail and _fold(tail.group().split()[-1]) not in _STOP:
                end += tail.end()
            spans.append(_Span(start, end, INSTELLING))
        for m in _INST_BEFORE_RE.finditer(text):
            name = m.group("name")
            words = [_fold(w) for w in re.findall(r"[\w'’&.-]+", name)]
            content = [w for w in words if w not in {"de", "het", "'t", "the", "van", "voor"}]
            if not content or all(w in _STOP or _is_role(w) for w in content):
                continue
            if _fold(m.group("kw")) in _GENERIC_BEFORE_NAME and content[0] in _KEEP:
                continue
            spans.append(_Span(m.start(), m.end("name"), INSTELLING))
        for m in _INST_BEFORE_LOWER_RE.finditer(text):
            last = _fold(m.group("name").split()[-1])
            if last not in _STOP and last not in _KEEP:
                spans.append(_Span(m.start(), m.end(), INSTELLING))
        spans.extend(_Span(m.start(), m.end(), INSTELLING) for m in _INST_BRANDS_RE.finditer(text))
        spans.extend(_Span(m.start(), m.end(), INSTELLING) for m in _INST_ABBREV_RE.finditer(text))
        for m in _INST_COMPOUND_RE.finditer(text):
            if _fold(m.group()) not in _GENERIC_SCHOOL:
                tail = re.match(r"\s+[A-Z][\w'’-]+", text[m.end() :])
                end = m.end() + (tail.end() if tail else 0)
                spans.append(_Span(m.start(), end, INSTELLING))
        for m in _INST_LOWER_AFTER_RE.finditer(text):
            name = _fold(m.group("name"))
            if name not in _STOP and name not in _INST_LEAD_STOP and not _is_role(name):
                spans.append(_Span(m.start(), m.end(), INSTELLING))
        return spans

    @staticmethod
    def _institution_lead(text: str, tokens: list[_Token], type_start: int) -> int | None:
        """Start of the capitalised name before an institution type, or None if there is none."""
        before = [t for t in tokens if t.end <= type_start]
        start: int | None = None
        cursor = type_start
        for token in reversed(before[-5:]):
            gap = text[token.end : cursor]
            if gap.strip():
                break
            if not token.is_cap:
                # Particles inside a name ('Johan de Witt College') continue it.
                if start is not None and token.low in {"de", "van", "der", "den", "ten", "ter"}:
                    cursor = token.start
                    continue
                break
            if token.low in _INST_LEAD_STOP or _is_role(token.low):
                break
            start, cursor = token.start, token.start
        return start

    # -- deduce --------------------------------------------------------------------------------

    def _deduce_spans(self, text: str, tokens: list[_Token]) -> list[_Span]:
        """Ask deduce, then keep only the findings that survive our allow-lists."""
        spans: list[_Span] = []
        for offset, chunk in _chunks(text):
            spans += self._deduce_chunk(text, tokens, offset, chunk)
        return spans

    def _deduce_chunk(
        self, text: str, tokens: list[_Token], offset: int, chunk: str
    ) -> list[_Span]:
        """Map deduce's findings in one chunk of the text to our spans."""
        # No catch_warnings here: deduce warns only while loading, and catch_warnings swaps
        # process-wide state, which is unsafe when summaries are anonymised in worker threads.
        doc = self._deduce.deidentify(chunk)
        spans: list[_Span] = []
        for ann in doc.annotations:
            tag = str(ann.tag).lower()
            start, end, found = offset + ann.start_char, offset + ann.end_char, ann.text
            if "persoon" in tag or "patient" in tag or "naam" in tag:
                span = self._trim_name(text, tokens, start, end)
                if span is not None:
                    spans.append(span)
            elif tag == "locatie":
                if any(c.isdigit() for c in found) and not _POSTCODE_RE.search(found):
                    spans.append(_Span(start, end, ADRES, weak=True))
            elif tag == "datum":
                spans.append(_Span(start, end, DATUM, weak=True))
            elif tag == "telefoonnummer":
                spans.append(_Span(start, end, TELEFOON))
            elif tag == "bsn":
                spans.append(_Span(start, end, BSN))
            elif tag == "id":
                spans.append(_Span(start, end, DOCUMENTNUMMER, weak=True))
            elif tag == "emailadres":
                spans.append(_Span(start, end, EMAIL))
            elif tag == "url":
                spans.extend(
                    _Span(start + s.start, start + s.end, URL) for s in self._url_spans(found)
                )
            elif tag in {"ziekenhuis", "zorginstelling"}:
                # 'GGZ Centraal' -> 'GGZ [INSTELLING]': the kind of service is a kept term.
                lead = re.match(r"(?:(?:GGZ|Jeugdzorg|ggz|jeugdzorg)\b[\s-]*)+", found)
                if lead:
                    start += lead.end()
                    found = found[lead.end() :]
                words = [_fold(w) for w in _TOKEN_RE.findall(found)]
                if words and not all(w in _KEEP or w in _STOP for w in words):
                    spans.append(_Span(start, end, INSTELLING))
        return spans

    def _trim_name(self, text: str, tokens: list[_Token], start: int, end: int) -> _Span | None:
        """Drop the words of a deduce name finding that are role, topic or function words."""
        inside = [i for i, t in enumerate(tokens) if t.start >= start and t.end <= end]
        if not inside:
            return None
        lead = tokens[inside[0]]
        if (
            inside[0] > 0
            and not lead.is_cap
            and lead.low in {"de", "het", "op", "in", "aan", "uit"}
        ):
            return None  # 'op de Dam', 'in de Haven': an article plus a surname-like word
        keep = [i for i in inside if self._could_be_name(tokens, i, text)]
        if keep and keep[0] == inside[0] and self._after_determiner(tokens, keep[0], text):
            # 'naar de Bank': a capitalised word after an article is a place or thing.
            keep = keep[1:]
        if not keep:
            return None
        if lead.low in _INTERFIX and all(
            tokens[i].low in self._places and tokens[i].low not in self._first for i in keep
        ):
            return None  # 'komt van Amsterdam': a particle plus a place name
        first = keep[0]
        # Particles right before the surname belong to it ('mevr. de Wit' -> 'de Wit').
        while first - 1 in inside and tokens[first - 1].low in _INTERFIX:
            first -= 1
        return _Span(tokens[first].start, tokens[keep[-1]].end, NAAM)

    def _could_be_name(self, tokens: list[_Token], i: int, text: str) -> bool:
        """Whether a capitalised token inside a deduce name finding may really be a name."""
        token = tokens[i]
        if token.low in _KEEP or token.low in _CAP_NOT_NAME or _is_role(token.low):
            return False
        if token.stop and not (token.is_cap and not token.sent_start):
            return False
        if token.sent_start and token.ambiguous:
            return self._name_follows(tokens, i, text)
        if _word_before_number(token, text):
            return False
        return token.is_cap or token.low in self._first

    # -- names ---------------------------------------------------------------------------------

    def _name_number_spans(self, text: str) -> list[_Span]:
        """User names made of a first name and digits ('Ruben88', 'jamal_2008')."""
        spans = []
        for m in _NAME_NUMBER_RE.finditer(text):
            low = _fold(m.group("name"))
            if low in self._first and low not in _AMBIGUOUS and low not in _STOP:
                spans.append(_Span(m.start(), m.end(), HANDLE))
        return spans

    def _name_spans(self, text: str, tokens: list[_Token]) -> list[_Span]:
        """Names from the first-name lists, capitalised or not, and from context cues."""
        n = len(tokens)
        is_name = [False] * n
        for i in range(n):
            is_name[i] = self._is_name_token(tokens, i, text)
        for i in range(n):
            if not is_name[i] and self._cued_name(tokens, i, text):
                is_name[i] = True
        # 'meneer van den Berg', 'Mrs. de Wit': a title opens a surname with particles.
        for i in range(n - 1):
            if tokens[i].low in _TITLES and text[tokens[i].end : tokens[i + 1].start].strip() in (
                "",
                ".",
            ):
                for j in self._surname_extension(tokens, i, text, after_title=True):
                    is_name[j] = True
        # 'Rose en Lily', 'Max, Sanne en Daan': a listed name next to a found one is a name too.
        for _ in range(2):
            for i in range(n):
                if not is_name[i] and self._coordinated_with_name(tokens, i, text, is_name):
                    is_name[i] = True
        # Surnames and particles that follow a detected name belong to it ('Sanne de Vries').
        for i in range(n):
            if is_name[i]:
                for j in self._surname_extension(tokens, i, text):
                    is_name[j] = True
        spans: list[_Span] = []
        i = 0
        while i < n:
            if not is_name[i]:
                i += 1
                continue
            j = i
            while (
                j + 1 < n
                and is_name[j + 1]
                and not text[tokens[j].end : tokens[j + 1].start].strip()
            ):
                j += 1
            end = tokens[j].end
            if tokens[j].text[-2:] in ("'s", "’s"):
                end -= 2  # keep the possessive: "[NAAM]'s mother" still reads as a sentence
            spans.append(_Span(tokens[i].start, end, NAAM))
            i = j + 1
        return spans

    def _coordinated_with_name(
        self, tokens: list[_Token], i: int, text: str, is_name: list[bool]
    ) -> bool:
        """Whether a listed first name is joined by 'en', 'and' or a comma to a found name."""
        token = tokens[i]
        if token.low not in self._first or token.stop or token.low in _KEEP:
            return False
        if token.text.isupper() and len(token.text) > 1:
            return False
        for step in (-1, 1):
            j = i + step
            if not 0 <= j < len(tokens):
                continue
            a, b = (tokens[j], token) if step < 0 else (token, tokens[j])
            gap = text[a.end : b.start].strip()
            if gap == "," and is_name[j]:
                return True
            k = j + step
            if gap == "" and tokens[j].low in {"en", "and", "of", "or"} and 0 <= k < len(tokens):
                a2, b2 = (tokens[k], tokens[j]) if step < 0 else (tokens[j], tokens[k])
                if not text[a2.end : b2.start].strip() and is_name[k]:
                    return True
        return False

    @staticmethod
    def _after_determiner(tokens: list[_Token], i: int, text: str) -> bool:
        """Whether token i directly follows 'de', 'het', 'the' or 'a' (then it is no name)."""
        if i == 0 or tokens[i].sent_start:
            return False
        prev = tokens[i - 1]
        return (
            not prev.is_cap
            and prev.low in {"de", "het", "een", "the", "a", "an", "this", "deze", "dit"}
            and not text[prev.end : tokens[i].start].strip()
        )

    def _is_name_token(self, tokens: list[_Token], i: int, text: str) -> bool:
        """Decide from the name lists and the capitalisation whether one token is a name."""
        token = tokens[i]
        low = token.low
        if low in _KEEP or _is_role(low) or len(low) < 2:
            return False
        if "-" in low and token.is_cap and low not in self._first:
            # 'Emma-Louise', 'Jan-Willem': a double first name of capitalised listed parts.
            parts = low.split("-")
            return (
                parts[0] in self._first
                and parts[0] not in _AMBIGUOUS
                and all(p and p not in _KEEP for p in parts)
                and all(w[:1].isupper() for w in token.text.split("-"))
            )
        if low not in self._first and not (token.is_cap and low in _CAP_ONLY_FIRST):
            # Afghan and Pakistani names such as 'Habibullah' share this ending.
            return low.endswith("ullah") and len(low) > 6
        if _word_before_number(token, text):
            return False
        if token.is_cap:
            if low in _CAP_NOT_NAME or low in self._places:
                return False
            if token.sent_start and (token.ambiguous or token.stop or low in _CAP_ONLY_FIRST):
                return self._name_follows(tokens, i, text)
            if token.text.isupper() and len(token.text) > 1:
                return False  # acronyms such as 'IS' or 'JEP'
            if self._after_determiner(tokens, i, text):
                return self._name_follows(tokens, i, text)  # 'op de Dam', 'the Hope campaign'
            return not (low in _STOP and not token.sent_start and low in _INTERFIX)
        if token.stop or low in _CAP_ONLY_FIRST:
            return False
        if token.ambiguous:
            return self._name_follows(tokens, i, text) or self._role_before(tokens, i, text)
        return True

    def _name_follows(self, tokens: list[_Token], i: int, text: str) -> bool:
        """An ambiguous word is a name when a speech verb, an age or a surname follows."""
        if _AGE_AFTER_RE.match(text, tokens[i].end):
            return True
        if i + 1 >= len(tokens) or text[tokens[i].end : tokens[i + 1].start].strip():
            return False
        nxt = tokens[i + 1]
        if i > 0 and tokens[i - 1].low in _DETERMINERS and not tokens[i].sent_start:
            return False
        if nxt.low in _SPEECH_VERBS and nxt.low not in {"is", "was", "has", "had"}:
            return True
        return (
            tokens[i].is_cap
            and nxt.is_cap
            and nxt.low in self._surnames
            and nxt.low not in _KEEP
            and not nxt.sent_start
        )

    @staticmethod
    def _role_before(tokens: list[_Token], i: int, text: str) -> bool:
        """Whether a role, kinship word or title stands right before token i."""
        if i == 0:
            return False
        prev = tokens[i - 1]
        gap = text[prev.end : tokens[i].start]
        if gap.strip(" .,"):
            return False
        return prev.low in _ROLE_CUES or prev.low in _TITLES or prev.low in _NAMING_CUES

    def _cued_name(self, tokens: list[_Token], i: int, text: str) -> bool:
        """Names not in any list, recognised from what stands around them."""
        token = tokens[i]
        low = token.low
        if token.stop or low in _KEEP or _is_role(low) or low in _CAP_NOT_NAME or len(low) < 2:
            return False
        if token.text.isupper() and len(token.text) > 1:
            return False
        if (
            token.sent_start
            and token.is_cap
            and i + 1 < len(tokens)
            and tokens[i + 1].low in _REPORTING_VERBS
            and not text[token.end : tokens[i + 1].start].strip()
            and low not in _SENTENCE_OPENERS
            and low not in self._places
            and not low.endswith(("s", "en"))  # plural subjects: 'Teachers said', 'Ouders zeggen'
        ):
            return True  # 'Peterson said', 'Bakkali vertelde'
        if i == 0:
            return False
        prev = tokens[i - 1]
        gap = text[prev.end : token.start].strip()
        listed = token.is_cap or low in self._first or low in self._surnames
        context = {t.low for t in tokens[max(0, i - 4) : i - 1]}
        if prev.low in _NAMING_CUES and gap in ("", ":") and not context & _NON_PERSON_NOUNS:
            return listed
        if prev.low in _TITLES and gap in ("", "."):
            return listed
        if (
            gap == ""
            and prev.low in {"is", "was"}
            and i >= 2
            and tokens[i - 2].low
            in {
                "naam",
                "name",
                "voornaam",
                "firstname",
            }
        ):
            return listed
        nxt_gap = text[token.end : tokens[i + 1].start].strip() if i + 1 < len(tokens) else "x"
        if (
            token.is_cap
            and not token.sent_start
            and nxt_gap == ""
            and tokens[i + 1].low in _SPEECH_VERBS
            and tokens[i + 1].low
            not in {"is", "was", "has", "had", "heeft", "gaat", "zit", "komt"}
            and low not in self._places
            and prev.low not in _DETERMINERS
        ):
            return True  # 'dat Rigillio zei', 'when Brayden told'
        if prev.low in _ROLE_CUES and gap == "":
            # 'leerling Jamal' or 'my student tyler'; a lowercase word needs the name list.
            if token.is_cap and not token.sent_start:
                return low not in self._places or low in self._first
            return low in self._first and low not in _CAP_ONLY_FIRST
        return False

    def _surname_extension(
        self, tokens: list[_Token], i: int, text: str, after_title: bool = False
    ) -> list[int]:
        """Indices of surname tokens and particles that continue the name at token i."""
        found: list[int] = []
        j = i + 1
        first_is_cap = tokens[i].is_cap
        # After a title the dot of an abbreviation ('dhr. Jansen') may stand in between.
        allowed_gap = ("", ".") if after_title else ("",)
        while j < len(tokens) and text[tokens[j - 1].end : tokens[j].start].strip() in (
            allowed_gap if j == i + 1 else ("",)
        ):
            token = tokens[j]
            if (
                token.low in _KEEP
                or _is_role(token.low)
                or self._keep_phrase_re.match(text, token.start)
            ):
                break
            if token.low in _INTERFIX:
                k = j
                while k < len(tokens) and tokens[k].low in _INTERFIX and k - j < 3:
                    if k > j and text[tokens[k - 1].end : tokens[k].start].strip():
                        break
                    k += 1
                if k < len(tokens) and not text[tokens[k - 1].end : tokens[k].start].strip():
                    last = tokens[k]
                    if (last.is_cap and last.low not in _KEEP) or (
                        last.low in self._surnames and not last.ambiguous
                    ):
                        found.extend(range(j, k + 1))
                        j = k + 1
                        continue
                break
            if token.is_cap and token.low not in _STOP and token.low not in _CAP_NOT_NAME:
                if token.text.isupper() and len(token.text) > 1:
                    break
                if token.low in self._places and token.low not in self._surnames:
                    break  # 'Sanne Amsterdam' is a name and a place, not a surname
                found.append(j)
                j += 1
                continue
            if (
                not token.is_cap
                and not first_is_cap
                and token.low in self._surnames
                and not token.ambiguous
                and token.low not in _SPEECH_VERBS
            ):
                found.append(j)
                j += 1
                continue
            break
        return found

    # -- allow-list ----------------------------------------------------------------------------

    def _protect(self, text: str, spans: list[_Span]) -> list[_Span]:
        """Cut protected phrases such as 'Veilig Thuis' out of name and institution spans."""
        protected = [(m.start(), m.end()) for m in self._keep_phrase_re.finditer(text)]
        if not protected:
            return spans
        result: list[_Span] = []
        for span in spans:
            if span.label not in (NAAM, INSTELLING):
                result.append(span)
                continue
            pieces = [(span.start, span.end)]
            for p_start, p_end in protected:
                next_pieces = []
                for s, e in pieces:
                    if p_end <= s or p_start >= e:
                        next_pieces.append((s, e))
                        continue
                    if s < p_start:
                        next_pieces.append((s, p_start))
                    if p_end < e:
                        next_pieces.append((p_end, e))
                pieces = next_pieces
            for s, e in pieces:
                words = [_fold(w) for w in _TOKEN_RE.findall(text[s:e])]
                content = [w for w in words if w not in _STOP and w not in _INTERFIX]
                if content and not all(w in _KEEP for w in content):
                    stripped = text[s:e]
                    s += len(stripped) - len(stripped.lstrip(" ,.;:-"))
                    e -= len(stripped) - len(stripped.rstrip(" ,.;:-"))
                    result.append(_Span(s, e, span.label))
        return result


def _chunks(text: str, limit: int = 400) -> Iterator[tuple[int, str]]:
    """Cut text at sentence ends into pieces of about `limit` characters, with offsets."""
    # deduce slows down more than linearly on long runs of names; short pieces keep it linear.
    start = 0
    while start < len(text):
        end = min(len(text), start + limit)
        if end < len(text):
            cut = max(text.rfind(c, start, end) for c in ".!?\n")
            if cut <= start:
                cut = text.rfind(" ", start, end)
            end = cut + 1 if cut > start else end
        yield start, text[start:end]
        start = end


def _trim_punctuation(text: str, span: _Span) -> _Span:
    """Give a sentence's closing dot or comma back to the text around a name or address."""
    if span.label not in (NAAM, INSTELLING, ADRES):
        return span
    end = span.end
    while end > span.start + 1 and text[end - 1] in ".,;:!?\"'”’)":
        end -= 1
    return _Span(span.start, end, span.label, span.weak)


def _word_before_number(token: _Token, text: str) -> bool:
    """'max 3 personen', 'Max. 5': an ambiguous word before a number is no name."""
    return (
        token.low in _AMBIGUOUS
        and re.match(r"\.?\s*\d", text[token.end : token.end + 4]) is not None
    )


def _is_role(word: str) -> bool:
    """Whether a folded word is a role or kinship word rather than a name."""
    return word in _ROLE_CUES or word in _TITLES


def _is_year(number: str) -> bool:
    """A four-digit number from 1900 to 2099 is a year, not a house number."""
    return re.fullmatch(r"(?:19|20)\d{2}", number.strip()) is not None


def _is_year_or_age(value: str) -> bool:
    """Whether a value after a number cue is only a year, a school year or a small count."""
    return (
        _is_year(value.lstrip("#"))
        or re.fullmatch(r"#?\d{1,3}", value) is not None
        or re.fullmatch(r"(?:19|20)\d{2}[-/–](?:19|20)?\d{2}", value) is not None
    )


def _merge(spans: Iterable[_Span]) -> list[_Span]:
    """Union overlapping spans; the merged span takes the most specific label."""
    merged: list[_Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if span.end <= span.start:
            continue
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            label = last.label if last.priority >= span.priority else span.label
            weak = last.weak if last.priority >= span.priority else span.weak
            merged[-1] = _Span(last.start, max(last.end, span.end), label, weak)
        else:
            merged.append(span)
    return merged


def _render(text: str, spans: list[_Span]) -> str:
    """Substitute the placeholders and fold repeats like '[NAAM] [NAAM]' into one."""
    parts: list[str] = []
    cursor = 0
    for span in spans:
        parts.append(text[cursor : span.start])
        parts.append(span.label)
        cursor = span.end
    parts.append(text[cursor:])
    result = "".join(parts)
    return re.sub(r"(\[[A-Z]+\])(?:[ \t]+\1)+", r"\1", result)


# ---------------------------------------------------------------------------------------------
# JSON-lines interface.
# ---------------------------------------------------------------------------------------------

_default: Anonymiser | None = None


def anonymise_lines(stdin: IO[str], stdout: IO[str], anonymiser: Anonymiser | None = None) -> None:
    """Read {"text": ...} JSON lines and write {"text": anonymised} or {"error": ...} per line."""
    global _default
    if anonymiser is None:
        if _default is None:
            _default = Anonymiser()
        anonymiser = _default
    for line in stdin:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            out: dict[str, str] = {"error": f"invalid JSON: {exc.msg}"}
        else:
            if isinstance(record, dict) and isinstance(record.get("text"), str):
                out = {"text": anonymiser.anonymise(record["text"])}
            else:
                out = {"error": 'expected an object with a string field "text"'}
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        # Flush per line so a pipe partner sees each answer without waiting for the batch.
        stdout.flush()


if __name__ == "__main__":
    anonymise_lines(sys.stdin, sys.stdout)
