"""Facts about Korean names and the words around them, for ``compliance._hangul``: census
surnames, titles and roles that mark a person, particles, and the endings and words that mark
a place, an organisation, a medicine or an everyday word instead. Lists only; the detector that
reads them is ``compliance._hangul``.
"""

from __future__ import annotations

import re

# Surnames of the Statistics Korea census (2015; most common first). The common ones may start
# a cue-less full name; every one of them may be a bare surname before a cue (박씨, 김 교수).
_COMMON_SURNAMES = frozenset(
    "김 이 박 최 정 강 조 윤 장 임 한 오 서 신 권 황 안 송 전 홍 유 류 고 문 양 손 배 백 허 남 심"
    " 노 하 곽 성 차 주 우 구 나 민 진 지 엄 채 원 천 방 공 현 함 변 염 여 추 도 소 석 선 설 마"
    " 길 연 위 표 명".split()
)
_RARE_SURNAMES = frozenset(
    "기 반 라 왕 금 옥 육 인 맹 제 모 탁 국 어 은 편 용 예 경 봉 사 부 가 복 태 목 형 피 두 감"
    " 호 음 빈 동 온 시 범 좌 팽 승 간 상 갈 단 견 당 화 창 옹 순 빙 종 풍 개 초 근 묵 요 필 로"
    " 리 림 량 려 렴 룡 뢰 뇌 즙 판 평 포 학 해 후 흥 궉 군 궁 낭 내 누 담 대 돈 둔 등 란 랑 만"
    " 매 묘 미 비 삼 섭 세 수 십 아 애 야 엽 영 완 운 자 저 점 준 증 춘 탄 환 혁 향 교 계 곡"
    " 망".split()
)
_SURNAMES = _COMMON_SURNAMES | _RARE_SURNAMES
_COMPOUND_SURNAMES = frozenset(
    "남궁 황보 제갈 선우 독고 사공 서문 동방 어금 망절 장곡 소봉 강전".split()
)

# Words after a name (or a bare surname) that make it a person: honorifics, roles, titles.
_TITLES = (
    "교수|의원|대통령|전대통령|대표|장관|회장|부회장|총괄회장|명예회장|사장|부사장|원장|이사장|"
    "후보|감독|선수|기자|변호사|판사|부장판사|검사|부장검사|차관|총리|총장|위원장|부위원장|"
    "지사|시장|군수|구청장|청장|의사|간호사|간호원|환자|보호자|선생님|선생|앵커|작가|사무장|"
    "상무|전무|이사|실장|팀장|과장|국장|소장|부장|차장|대리|주임|병장|상병|일병|이병|하사|중사|"
    "상사|소위|중위|대위|소령|중령|대령|준장|중장|대장|목사|신부|스님|박사|대변인|의장|비서관|"
    "비서실장|수석|행정관|여사|할머니|할아버지|코치|교사|원내대표|최고위원|사무총장|관장|"
    "주필|논설위원|특파원|아나운서|위원|고문|조교|전도사|장로|집사|순경|경위|경감|경정|총경|"
    "치료사|약사|영양사|상담사|사회복지사|전공의|레지던트|인턴|주치의|담당의|간병인|"
    "부사관|경사|경장|셰프|비서|시인|총재|교육감|당선인|당선자|점장|서장|지청장|본부장|단장|처장|"
    "사령관|대사|주석|총통|부총리|국무총리|장군|선장|반장|"
    "씨|님|군|양|옹|측|일가|부부|모녀|부자|모자|형제|자매|남매"
)
_TITLE_SET = frozenset(_TITLES.split("|"))
# Titles that take a word in front, written as one word: 교통물류실장, 선관위원장, 국정원장.
_TITLE_TAILS = (
    "위원장|원장|실장|청장|서장|국장|처장|본부장|단장|장관|의원|교육감|총재|사령관|회장|사장|"
    "부장|소장|총장|지사|대사|공사|교수|감독|판사|검사|총리|주석"
)
# A title, plain or with such a word in front (bounded: the pattern stays linear).
_TITLE = rf"(?:[\uac00-\ud7a3]{{1,4}}?(?:{_TITLE_TAILS})|{_TITLES})"
# Kinship words and nicknames of endearment after a name: 지혜누나, 광식이 형, 양익준아저씨.
_KIN = "누나|언니|오빠|형님|아저씨|아줌마|쌤|선배님|선배"
# Cues after which any short word is a person's name or nickname: 강인 씨, 지혜누나, 장현우쌤.
_NAME_ONLY_CUES = frozenset(["씨"])
# A part played: 메이역의 배우, '선우' 역을 맡았다, 백인하 역에 캐스팅.
_PLAYS = re.compile(
    r"(?<![\uac00-\ud7a3])([\uac00-\ud7a3]{2,5})(['’\"」』]?\s?)역(?:할)?"
    r"(?:을|를|으로|의|에|에는|이|은|도|만|하는|한|이다)(?![\uac00-\ud7a3])"
)
# Words before a name that say a person follows: 배우 소지섭, 보호자 김영희, 아내 박경혜.
_ROLES_BEFORE = frozenset(
    (
        "배우 가수 개그맨 개그우먼 코미디언 방송인 아나운서 앵커 모델 감독 선수 기자 작가 시인"
        " 화가 환자 보호자 아내 남편 부인 딸 아들 손자 손녀 아버지 어머니 엄마 아빠 동생 형 오빠"
        " 누나 언니 친구 멤버 주인공 씨 고 故 피의자 피고인 피해자 용의자 원고 피고 신부 신랑"
        " 의사 간호사 교수 변호사 대표 회장 대통령 총리 장관 의원 후보 사장 원장 이사장 명예교수"
        " 셰프 요리사 성우 배우겸 MC 디자이너 프로듀서 작곡가 작사가 래퍼 소설가 평론가 보좌관"
        " 담당의 주치의 간병인 상담사 치료사 조카 삼촌 이모 고모 외삼촌 할머니"
        " 할아버지 남자친구 여자친구 약혼자 대리인 신청인 민원인 고객 회원 학생 교사"
    ).split()
)
# Particles and endings a name may carry inside its word: 김영희가, 김영희씨의, 박씨는.
_PARTICLE = (
    r"(?:이|가|은|는|을|를|의|에|에게|에게서|한테|께|께서|와|과|랑|이랑|도|만|로|으로|부터|까지|"
    r"처럼|보다|마저|조차|이나|나|이며|며|이고|고|이다|다|였다|이었다|이라|라|이라고|라고|야|아|"
    r"이여|여|요|이요|님|씨|군|양|측|네|들|지만|이지만|인데|이자|자|로서|으로서|였고|이었고|였던|이었던|"
    r"에서|에겐|에게는|한테서|하고)*"
)
_HONORIFIC_AFTER = re.compile(rf"(?:씨|님|군|양|옹){_PARTICLE}")
# Words that end in 씨/님/군/양 without being an honorific after a name.
_NOT_HONORIFIC = frozenset(
    """
    성씨 아씨 박씨앗 장군 국군 공군 육군 해군 반군 원군 주군 성군 진군 명군 양군 백군 청군 홍군
    적군 아군 대군 왕군 우군 연군 모양 서양 동양 태양 사양 영양 고양 요양 수양 교양 부양 심양 함양
    평양 남양 선양 화양 봉양 온양 안양 단양 하양 정양 구양 문양 염양 정님 하님 기님 주님 임님
    """.split()
)
# Single syllables that are surnames but, before a title, mostly mean something else:
# 한 (one), 전 (former), 현 (current), 두/세 (two/three), 모 (a certain), 여/남 (female/male),
# 각 (each), 양 (both), 고 (the late), 대 (great), 총 (total), 부 (deputy), 단 (only), 초 (first).
_AMBIGUOUS_BEFORE_TITLE = frozenset(
    "한 전 현 두 세 모 여 남 각 양 고 대 총 부 단 초 본 동 상 소 매 제 수 이전".split()
)

# Places, countries and organisations that Kiwi tags as proper nouns and that have the shape of
# a Korean name (a surname syllable and one or two more), or that are often read as names.
_NOT_PERSONS = frozenset(
    """
    한국 대한민국 조선 고려 신라 백제 가야 한반도 남한 북한 한미 한일 한중 미국 중국 일본 영국 독일
    프랑스 러시아 인도 호주 캐나다 대만 타이완 홍콩 마카오 베트남 태국 필리핀 인도네시아 말레이시아
    싱가포르 몽골 이란 이라크 이스라엘 이집트 터키 튀르키예 스페인 이탈리아 포르투갈 그리스 네덜란드
    벨기에 스위스 스웨덴 노르웨이 핀란드 덴마크 폴란드 체코 헝가리 오스트리아 우크라이나 멕시코
    브라질 아르헨티나 칠레 페루 콜롬비아 쿠바 남아공 나이지리아 케냐 유럽 아시아 아프리카 미주
    중동 동남아 서울 부산 대구 인천 광주 대전 울산 세종 제주 경기 강원 충북 충남 전북 전남 경북
    경남 수원 성남 고양 용인 부천 안산 안양 남양주 화성 평택 의정부 시흥 파주 김포 광명 군포 하남
    오산 이천 양주 구리 안성 포천 의왕 여주 양평 동두천 과천 가평 연천 춘천 원주 강릉 동해 태백
    속초 삼척 홍천 횡성 영월 평창 정선 철원 화천 양구 인제 고성 양양 청주 충주 제천 보은 옥천
    영동 증평 진천 괴산 음성 단양 천안 공주 보령 아산 서산 논산 계룡 당진 금산 부여 서천 청양
    홍성 예산 태안 전주 군산 익산 정읍 남원 김제 완주 진안 무주 장수 임실 순창 고창 부안 목포
    여수 순천 나주 광양 담양 곡성 구례 고흥 보성 화순 장흥 강진 해남 영암 무안 함평 영광 장성
    완도 진도 신안 포항 경주 김천 안동 구미 영주 영천 상주 문경 경산 군위 의성 청송 영양 영덕
    청도 고령 성주 칠곡 예천 봉화 울진 울릉 창원 진주 통영 사천 김해 밀양 거제 양산 의령 함안
    창녕 남해 하동 산청 함양 거창 합천 마산 진해 서귀포 독도 강남 강북 강동 강서 서초 송파 마포
    용산 종로 중구 성북 성동 노원 도봉 은평 관악 동작 영등포 구로 금천 양천 광진 동대문 서대문
    중랑 여의도 명동 신촌 홍대 이태원 압구정 청담 잠실 목동 판교 분당 일산 송도 해운대 남산 한강
    한라산 백두산 지리산 설악산 금강산 낙동강 청와대 국회 정부 삼성 현대 기아 한화 롯데 신세계
    두산 한진 대한항공 아시아나 포스코 카카오 네이버 쿠팡 농협 신한 하나 우리 국민 기업 하이닉스
    셀트리온 유한양행 녹십자 한미약품 대웅 종근당 동아 조선일보 동아일보 중앙일보 한겨레 경향
    연합뉴스 서울대 연세대 고려대 카이스트 포스텍 서울대병원 세브란스 아산병원 성모병원 민주당
    국민의힘 새누리당 한나라당 정의당 이건 이번 이후 이전 이제 이날 이곳 정말 진짜 한번 한편
    조금 조사 장관 장면 정도 정리 주말 주변 주인 주인공 전체 전국 전혀 최고 최근 최악 최초 최신
    김치 고기 고객 고민 고통 공연 공개 공감 공포 마음 마지막 마무리 문제 문화 민주 민족 박수
    방송 배우 백성 서로 선물 선수 설명 성공 성격 손님 송년 신문 신발 심리 안녕 양국 여름 여자 연기
    연출 오늘 오후 오전 오랜만 우리 우정 원작 원래 유명 유치 윤리 은행 인간 인기 인생 임신 장르
    장면 전개 정신 제목 제작 조연 주연 지금 지역 진심 차량 채널 천국 추억 한국어 한국인 한식
    현실 현장 현재 홍보 화면 황금 부모 가족 가수 감독 감동 강조 개봉 결말 경찰 경기도 공주 구조
    국가 국내 권력 기대 기억 나라 남자 노래 도시 동생 동물 마을 명작 모습 목소리 문재 반전 배경
    변화 사람 사랑 사진 상황 서비스 선생 설정 소리 소재 손해 수사 시간 시작 신고 안전 애니 여러
    여성 역사 영화 예술 오빠 외국 우주 유럽 음악 의원 이야기 인물 자신 장면 전쟁 정치 제일 주제
    지구 지난 차이 최고의 평점 표정 하나 한마디 허리 현대차 홍콩 황제 유튜브 구글 애플 아마존
    세월호 천안함 영호남 호남 영남 서구 동구 남구 북구 상해 조국 남북 대배심 배심원 유엔 한미일
    트위터 페이스북 인스타그램 카카오톡 카카오스토리 틱톡 넷플릭스 위키피디아 유튜브
    """.split()
)
# Last syllables of a place or an organisation: 강남구, 구례군, 인천시, 구포동, 서울역, 민주당.
_PLACE_ENDINGS = frozenset("시 군 구 읍 면 역 도 당 국 청 항 산 강 섬 교 관".split())
# 길동, 제동 are given names, 구포동, 신월동 neighbourhoods: a word ending so needs a cue.
_CUE_ENDINGS = frozenset("원".split())
# Endings of proper nouns that are not people: 조선어 (a language), 지루함 (a verb made noun).
_NNP_NOT_NAME_ENDINGS = frozenset("어 함 족 교 계 학 론 법 체 파 식당 점 관".split())
# Syllables of loanwords, rare in a Korean given name: 태블릿, 노키아, 유닉스 are not names.
_LOAN_SYLLABLES = frozenset(
    "스 크 트 프 르 브 드 즈 츠 블 릿 닉 키 네 티 디 피 쿠 투 퓨 뷰 잭 팩 렉 렛 턴 슨 튼 쉬"
    " 셔 쇼 츄 플 클 글 그 쓰 케 테 페 베 데 레 메 넷 텍 렌 펜 벤 젠 켄 톤 론 폰 존"
    " 팀 톰 킹 링 핑 빅 믹 센 션 숀 샤 셜 놀 폴 콜 볼 솔 롤 톨 뮤 류 퀴 퀸 윈 위 웨"
    " 워 왈 와 휴 듀 큐 뉴".split()
)
# Last syllables that end common nouns but rarely a given name; an unknown or split three-syllable
# word with a surname in front and one of these at the end is a noun (감상평, 상황극, 하락폭).
_NOT_NAME_ENDINGS = frozenset(
    """
    극 폭 씬 차 음 력 률 량 감 점 품 물 료 법 론 학 과 계 형 적 도 상 간 국 당 사 시 관 업 층
    권 로 부 대 단 비 피 판 통 회 금 액 폰 함 제 전 팀 측 막 편 곡 값 방 실 증 병 장 소 질 심
    역 구 군 면 읍 섬 강 산 속 밖 안 쪽 류 급 별 째 씩 들 분 초 번 끝 일 어 설
    """.split()
)

# Last syllables of English loanwords that seldom end a person's name: -ing, -tion, -ge.
_LOANWORD_ENDINGS = frozenset("닝 팅 싱 징 션 지 링 킹 밍 빙 딩 핑 깅 칭 리즘".split())
# Ends of the names of organisations, places and things (…은행, …전자, …시티, …스토리).
_ORG_ENDING = re.compile(
    "(?:은행|전자|일보|신문|통신|방송|해운|항공|기구|공단|공사|교육청|학교|대학교|대학|대|마을|"
    "공원|연합|금융|경찰서|위원회|의사회|협회|재단|그룹|센터|병원|의원|역|구|시|도|군|읍|면|동|"
    "산|강|당|차|궁|사|청|원|관|스|즈|메일|캠프|힐즈|스토리|북|파워|시티|랜드|타운|마트|"
    "피자|치킨|버거|헛|텔|카드|뱅크|닷컴|넷|톡|앱|폰|탭|팀|스쿨|클럽|리그|컵|필름|픽처스|"
    "엔터|엔터테인먼트|뮤직|미디어|뉴스|타임스|포스트|저널|대로|로|길|안|해|섬|만|항)$"
)
# Ends of the names of medicines (the WHO's INN stems, transliterated, and a few brands that
# clinical notes use every day): 아스피린, 타이레놀, 메트포르민, 아토르바스타틴, 리툭시맙.
# A transliterated word before a particle is taken for a person; these must stay readable.
_DRUG_ENDING = re.compile(
    "(?:피린|실린|마이신|사이클린|스타틴|프릴|사르탄|프라졸|디핀|옥사신|포르민|글립틴|파린|"
    "트립탄|세트론|카인|로이드|레놀|올롤|아졸|코나졸|시맙|주맙|티닙|립틴|비르|테롤|솔론|타손|"
    "부펜|페넴|락탐|아제팜|졸람|아제핀|티딘|슐린|르핀|데인|타민|글리타존|플로진|글루타이드|"
    "트렉세이트|토신|록센|코삭|독신|마졸|디올|라졸|페리돌|타졸|티아짓|세미드|락톤|마린|가바린|"
    "피티아|메드|플렉스)$"
)
# Particles after a proper noun that make it the subject, object, topic or owner of a sentence.
_PERSON_PARTICLES = frozenset({"JKS", "JKO", "JKG", "JX", "JC"})
